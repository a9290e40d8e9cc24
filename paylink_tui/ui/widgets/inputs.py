"""Inputs of the app: the cursor blink follows the app (off in tests and snapshots), and
the email input validates as the agent types, with the service's Spanish reasons."""

from __future__ import annotations

from textual.validation import ValidationResult, Validator
from textual.widgets import Input

from paylink_tui.ui.texts import EMAIL_PLACEHOLDER


class TextInput(Input):
    def on_mount(self) -> None:
        self.cursor_blink = getattr(self.app, "cursor_blink", True)


class EmailValidator(Validator):
    """The one address rule (domain/address.py: the mail step's own), explained in Spanish
    with the words `generate_link` and `resend_link_email` would use. Pure: no DNS, so
    typing never waits on the network."""

    def validate(self, value: str) -> ValidationResult:
        from paylink_tui.domain.address import check_email
        from paylink_tui.domain.errors import InvalidEmail

        try:
            check_email(value)
        except InvalidEmail as exc:
            return self.failure(exc.message, value)
        return self.success()


class EmailInput(TextInput):
    def __init__(self, value: str = "", **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(
            value=value,
            placeholder=EMAIL_PLACEHOLDER,
            validators=[EmailValidator()],
            validate_on=["changed", "submitted"],
            **kwargs,
        )
