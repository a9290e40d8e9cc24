"""Widgets of the TUI: one module per non-trivial widget."""
