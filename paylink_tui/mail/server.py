"""MailDrop: a loopback SMTP server that stores every message it receives as an .eml file.

Used by `paylink-tui demo` (the agent opens the files to see what a client would get) and
by the tests (a real SMTP conversation, then the stored bytes are parsed).
"""

from __future__ import annotations

import re
import ssl
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from paylink_tui.paths import private_dir, write_private

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+|\.{2,}")  # no separators, no ".."


class _DropHandler:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._lock = threading.Lock()
        self._seq = 0

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        data = envelope.original_content or envelope.content or b""
        if isinstance(data, str):
            data = data.encode("utf-8")
        rcpt = envelope.rcpt_tos[0] if envelope.rcpt_tos else "sin-destinatario"
        with self._lock:
            self._seq += 1
            seq = self._seq
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
        safe = _UNSAFE.sub("_", rcpt)[:80]
        path = self.folder / f"{stamp}-{seq:04d}-{safe}.eml"
        tmp = path.with_suffix(".tmp")
        write_private(tmp, data)  # 0600: a client's name, address and link
        tmp.replace(path)  # readers never see half a file
        return "250 OK mensaje guardado"


class _Controller(Controller):
    """A Controller that can listen on port 0 (the kernel picks a free port)."""

    def _trigger_server(self) -> None:
        if self.port == 0 and self.server is not None and self.server.sockets:
            self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


class MailDrop:
    """`with MailDrop(folder) as drop: ... drop.port ...`; or `.start()` / `.stop()`.

    `ssl_context` makes it an implicit-TLS server; `tls_context` offers STARTTLS.
    SMTPUTF8 and 8BITMIME are advertised. Any login is accepted unless an aiosmtpd
    `authenticator` is given; `handler` replaces the one that stores .eml files.
    """

    def __init__(
        self,
        folder: Path,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        ssl_context: ssl.SSLContext | None = None,
        tls_context: ssl.SSLContext | None = None,
        handler: Any | None = None,
        authenticator: Any | None = None,
    ) -> None:
        self.folder = Path(folder)
        self.host = host
        self._port = port
        self.handler = handler or _DropHandler(self.folder)
        kwargs: dict[str, Any] = {"enable_SMTPUTF8": True}
        if tls_context is not None:
            kwargs["tls_context"] = tls_context
        self._controller = _Controller(
            self.handler, hostname=host, port=port, ssl_context=ssl_context,
            # A client's auth attempt is answered, not crashed on; we accept anyone on loopback.
            auth_require_tls=False, auth_exclude_mechanism=None,
            authenticator=authenticator or _accept_all, **kwargs,
        )

    @property
    def port(self) -> int:
        return self._controller.port

    def start(self) -> MailDrop:
        private_dir(self.folder, tighten=True)
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    def __enter__(self) -> MailDrop:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def messages(self) -> list[Path]:
        """The stored .eml files, oldest first."""
        return sorted(self.folder.glob("*.eml"))


def _accept_all(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> Any:
    from aiosmtpd.smtp import AuthResult

    return AuthResult(success=True)
