"""paylink-tui: MIT payment links for pending insurance receipts, from the terminal."""

__version__ = "0.1.0"
