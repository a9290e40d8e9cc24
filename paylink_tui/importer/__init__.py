"""Reading the insurer's exports of pending receipts (CSV, XLSX). No database here."""

from paylink_tui.importer.reader import (
    COLUMNS,
    REQUIRED,
    ImportFileError,
    ReadResult,
    ReceiptRow,
    RowError,
    read_receipts,
)

__all__ = ["COLUMNS", "REQUIRED", "ImportFileError", "ReadResult", "ReceiptRow", "RowError",
           "read_receipts"]
