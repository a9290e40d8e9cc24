"""Mail errors. Each carries one Spanish sentence for the agent (`.message`), never a secret."""

from __future__ import annotations


class MailError(Exception):
    """Base of every mail error; `message` is what the agent reads."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidAddress(MailError):
    """An email address that is not valid (what and why, in Spanish)."""


class HeaderInjection(MailError):
    """A header value (subject, name, address) with a CR, LF or other control character."""


class TemplateProblem(MailError):
    """A template (usually an operator's override) that is missing or does not render."""


class SendError(MailError):
    """The SMTP server did not take the message.

    `permanent` is True when retrying cannot help (the server refused the recipient with
    a 5xx reply); the outbox still keeps the message visible so the agent can resend it
    to another address.
    """

    def __init__(self, message: str, *, permanent: bool = False, code: int | None = None) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.code = code
