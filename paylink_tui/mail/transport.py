"""SMTP transport: plain, STARTTLS or implicit TLS, optional login, timeouts.

`send()` turns every failure into a SendError with one Spanish sentence. The password
is only handed to smtplib's login and never appears in a message or a log line (smtplib
debug output stays off).
"""

from __future__ import annotations

import base64
import logging
import smtplib
import socket
import ssl
from email.message import EmailMessage
from typing import TYPE_CHECKING, Literal

from paylink_tui.domain.hosts import is_loopback_host
from paylink_tui.mail.errors import SendError

if TYPE_CHECKING:  # pragma: no cover
    from paylink_tui.config import Settings

log = logging.getLogger(__name__)

TlsMode = Literal["none", "starttls", "ssl"]


class SmtpTransport:
    def __init__(
        self,
        host: str,
        port: int,
        tls: TlsMode = "none",
        username: str | None = None,
        password: str | None = None,
        timeout: float = 20.0,
        *,
        ssl_context: ssl.SSLContext | None = None,
        allow_plain_login: bool = False,
    ) -> None:
        if tls not in ("none", "starttls", "ssl"):
            raise ValueError(f"modo TLS desconocido: {tls}")
        self.host = host
        self.port = int(port)
        self.tls: TlsMode = tls
        self.username = username or None
        self._password = password or None
        self.timeout = float(timeout)
        # A custom context lets tests (or an operator's private CA) verify the server.
        self.ssl_context = ssl_context
        self.allow_plain_login = allow_plain_login

    @classmethod
    def from_settings(
        cls, settings: Settings, *, ssl_context: ssl.SSLContext | None = None
    ) -> SmtpTransport:
        password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
        return cls(
            host=settings.smtp_host,
            port=settings.smtp_port,
            tls=settings.smtp_tls,
            username=settings.smtp_username,
            password=password,
            timeout=settings.smtp_timeout,
            ssl_context=ssl_context,
            allow_plain_login=settings.smtp_allow_plain_login,
        )

    def __repr__(self) -> str:  # never the password
        return (
            f"SmtpTransport(host={self.host!r}, port={self.port}, tls={self.tls!r}, "
            f"username={self.username!r}, timeout={self.timeout})"
        )

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"

    def _context(self) -> ssl.SSLContext:
        return self.ssl_context or ssl.create_default_context()

    def _connect(self) -> smtplib.SMTP:
        if self.tls == "ssl":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                self.host, self.port, timeout=self.timeout, context=self._context()
            )
        else:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        smtp.set_debuglevel(0)
        return smtp

    def _login(self, smtp: smtplib.SMTP) -> None:
        user, password = self.username or "", self._password or ""
        if (user + password).isascii():
            smtp.login(user, password)
            return
        # smtplib encodes credentials as ASCII; AUTH PLAIN (RFC 4616) is UTF-8, so a
        # password with ñ or accents is sent that way by hand.
        if "plain" not in (smtp.esmtp_features.get("auth") or "").lower().split():
            raise SendError(
                f"El servidor de correo {self.where} no admite usuario o contraseña con "
                "acentos o «ñ» (requiere AUTH PLAIN)."
            )
        token = base64.b64encode(b"\0" + user.encode() + b"\0" + password.encode()).decode()
        code, reply = smtp.docmd("AUTH", "PLAIN " + token)
        if code != 235:
            raise smtplib.SMTPAuthenticationError(code, reply)

    def plain_login_refused(self) -> str | None:
        """Why this transport must not log in, or None: with PAYLINK_SMTP_TLS=none the
        password would cross the network in clear, which only this machine (loopback) or
        the operator's explicit PAYLINK_SMTP_ALLOW_PLAIN_LOGIN=1 may accept."""
        if (not self.username or self.tls != "none" or self.allow_plain_login
                or is_loopback_host(self.host)):
            return None
        return (f"No se envió: iniciar sesión en el servidor de correo {self.where} sin cifrar "
                "(PAYLINK_SMTP_TLS=none) mandaría la contraseña legible por la red. Use "
                "PAYLINK_SMTP_TLS=starttls o ssl; solo si esa red es de confianza, "
                "PAYLINK_SMTP_ALLOW_PLAIN_LOGIN=1.")

    def send(self, msg: EmailMessage) -> None:
        """Hand the message to the server; SendError (Spanish, no secret) on any failure."""
        refused = self.plain_login_refused()
        if refused:  # before connecting: not even the user name goes out
            raise SendError(refused, permanent=True)
        smtp: smtplib.SMTP | None = None
        try:
            smtp = self._connect()
            smtp.ehlo()
            if self.tls == "starttls":
                smtp.starttls(context=self._context())
                smtp.ehlo()
            if self.username:
                self._login(smtp)
            refused = smtp.send_message(msg)
            if refused:  # some recipients refused, others accepted: we send to one only
                raise smtplib.SMTPRecipientsRefused(refused)
            log.info("mail sent to %s via %s (%s)", msg["To"], self.where, msg["Message-ID"])
        except SendError:
            raise
        except smtplib.SMTPRecipientsRefused as exc:
            code, reply = next(iter(exc.recipients.values()))
            addr = next(iter(exc.recipients))
            permanent = 500 <= code < 600
            raise SendError(
                f"El servidor de correo {self.where} rechazó al destinatario {addr}: "
                f"{code} {_text(reply)}",
                permanent=permanent,
                code=code,
            ) from None
        except smtplib.SMTPAuthenticationError as exc:
            raise SendError(
                f"El servidor de correo {self.where} rechazó el usuario «{self.username}» o "
                f"su contraseña ({exc.smtp_code})."
            ) from None
        except smtplib.SMTPSenderRefused as exc:
            raise SendError(
                f"El servidor de correo {self.where} no acepta enviar como {exc.sender}: "
                f"{exc.smtp_code} {_text(exc.smtp_error)}",
                code=exc.smtp_code,
            ) from None
        except smtplib.SMTPDataError as exc:
            raise SendError(
                f"El servidor de correo {self.where} rechazó el mensaje: "
                f"{exc.smtp_code} {_text(exc.smtp_error)}",
                code=exc.smtp_code,
            ) from None
        except smtplib.SMTPNotSupportedError:
            raise SendError(
                f"El servidor de correo {self.where} no admite lo que pide la configuración "
                "(STARTTLS, inicio de sesión o SMTPUTF8); revise PAYLINK_SMTP_TLS."
            ) from None
        except smtplib.SMTPServerDisconnected as exc:
            # smtplib turns a read timeout into "disconnected"; tell the two apart.
            if isinstance(exc.__context__, TimeoutError) or "timed out" in str(exc):
                raise SendError(
                    f"El servidor de correo {self.where} no respondió en "
                    f"{self.timeout:g} segundos."
                ) from None
            raise SendError(
                f"El servidor de correo {self.where} cerró la conexión antes de terminar el envío."
            ) from None
        except smtplib.SMTPResponseException as exc:
            raise SendError(
                f"El servidor de correo {self.where} respondió con un error: "
                f"{exc.smtp_code} {_text(exc.smtp_error)}",
                code=exc.smtp_code,
            ) from None
        except (ssl.SSLError, ssl.CertificateError) as exc:
            raise SendError(
                f"No se pudo establecer la conexión segura (TLS) con el servidor de correo "
                f"{self.where}: {getattr(exc, 'reason', None) or exc.__class__.__name__}."
            ) from None
        except TimeoutError:
            raise SendError(
                f"El servidor de correo {self.where} no respondió en {self.timeout:g} segundos."
            ) from None
        except ConnectionRefusedError:
            raise SendError(
                f"No se pudo conectar con el servidor de correo {self.where}: conexión rechazada "
                "(¿está encendido?)."
            ) from None
        except socket.gaierror:
            raise SendError(
                f"No se encontró el servidor de correo «{self.host}» (revise PAYLINK_SMTP_HOST)."
            ) from None
        except (smtplib.SMTPException, OSError) as exc:
            raise SendError(
                f"Falló el envío por el servidor de correo {self.where}: "
                f"{exc.__class__.__name__}."
            ) from None
        finally:
            if smtp is not None:
                try:
                    smtp.quit()
                except Exception:  # the connection may already be gone; nothing to do
                    smtp.close()


def _text(reply: bytes | str) -> str:
    """A server reply as one printable line (bounded)."""
    if isinstance(reply, bytes):
        reply = reply.decode("utf-8", "replace")
    return " ".join(reply.split())[:300]
