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


def check_server_url(url: str) -> str:
    """The agency server's URL as the client keeps it (`https://host[:port][/prefix]`, no
    trailing slash), or ValueError with the Spanish reason. `http://` only to this machine:
    a bearer token and a password must not cross a network in clear."""
    text = (url or "").strip().rstrip("/")
    try:
        parts = urlsplit(text)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        raise ValueError(f"«{text[:80]}» no es una dirección válida del servidor") from None
    if parts.scheme not in ("https", "http") or not host:
        raise ValueError("la dirección del servidor debe empezar con https:// "
                         "(p. ej. https://pagos.agencia.mx)")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ValueError("la dirección del servidor no lleva usuario, contraseña ni parámetros")
    if parts.scheme == "http" and not is_loopback_host(host):
        raise ValueError(f"el servidor {host} debe usarse con https://: por http:// la "
                         "contraseña y la sesión viajarían legibles por la red (http:// solo "
                         "se acepta para esta misma máquina)")
    return text
