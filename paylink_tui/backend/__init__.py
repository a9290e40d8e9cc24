"""The backend interface the UI and the commands use (base.py), and its implementations."""

from paylink_tui.backend.base import Backend

__all__ = ["Backend"]
