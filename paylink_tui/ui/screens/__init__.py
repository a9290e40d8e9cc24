"""Screens of the TUI: one module per screen or dialog, each with its own .tcss."""
