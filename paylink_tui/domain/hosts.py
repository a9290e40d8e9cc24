"""Which host names mean "this machine": pure, no DNS look-up.

A secret may travel unencrypted (SMTP login without TLS, MIT over http://) only to this
machine, and the sandbox answers only requests addressed to it (DNS rebinding)."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost",
                            "ip6-loopback"})


def is_loopback_host(host: str | None) -> bool:
    """`localhost`, `127.0.0.1` (any of 127/8), `::1`, with or without IPv6 brackets.
    Names are not resolved: `pagos.local` pointing at 127.0.0.1 is not loopback here."""
    name = (host or "").strip().rstrip(".").lower()
    if name.startswith("[") and name.endswith("]"):
        name = name[1:-1]
    if not name:
        return False
    if name in LOOPBACK_NAMES or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def host_of_header(value: str | None) -> str:
    """The host of an HTTP `Host` header without its port: `[::1]:8080` -> `::1`."""
    text = (value or "").strip()
    if text.startswith("["):
        end = text.find("]")
        return text[1:end] if end > 0 else ""
    return text.rsplit(":", 1)[0] if text.count(":") == 1 else text


def is_loopback_url(url: str) -> bool:
    try:
        return is_loopback_host(urlsplit(url).hostname)
    except ValueError:
        return False
