"""The local MIT Web Pay Plus emulator (generation, payment page, notifications)."""

from paylink_tui.gateway.sandbox.app import Sandbox, create_sandbox_app

__all__ = ["Sandbox", "create_sandbox_app"]
