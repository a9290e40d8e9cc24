"""Read the insurer's export of pending receipts (CSV or XLSX) into validated rows.

The reader never touches the database: it turns a file into `ReceiptRow`s plus the list of
rejected rows, each with the file's line number, the column, the value and a Spanish reason.
Rows are streamed (csv module, openpyxl read-only) so a file of a million rows does not have
to fit in memory as text.

Here: the file (its kind, encoding, delimiter, CSV or XLSX). importer/rows.py validates the
header and the rows, importer/fields.py each field; what they define that callers use is
re-exported from here.
"""

from __future__ import annotations

import codecs
import csv
from collections.abc import Iterator
from pathlib import Path

from paylink_tui.domain.errors import ImportFileError  # noqa: F401 - re-exported
from paylink_tui.domain.results import RowError  # noqa: F401 - re-exported
from paylink_tui.importer.fields import (  # noqa: F401 - re-exported
    _Rejected,
    normalize_email,
)
from paylink_tui.importer.rows import (  # noqa: F401 - re-exported
    COLUMNS,
    REQUIRED,
    ProgressCallback,
    ReadResult,
    ReceiptRow,
    _header_key,
    _quick_row,
    _validate,
    _validate_row,
)

# ---------------------------------------------------------------- file level


def read_receipts(path: str | Path, on_progress: ProgressCallback | None = None) -> ReadResult:
    """Read and validate every row of the file; raises ImportFileError if it can't be read."""
    path = Path(path)
    try:
        with path.open("rb") as fh:
            head = fh.read(8192)
    except FileNotFoundError:
        raise ImportFileError(f"No existe el archivo {path}.") from None
    except IsADirectoryError:
        raise ImportFileError(f"{path} es una carpeta, no un archivo.") from None
    except OSError as exc:
        raise ImportFileError(f"No se pudo abrir el archivo {path}: {exc.strerror}.") from None
    if not head.strip():
        raise ImportFileError(f"El archivo {path.name} está vacío.")
    if head.startswith(b"PK\x03\x04"):
        return _read_xlsx(path, on_progress)
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise ImportFileError(
            f"{path.name} es un libro de Excel antiguo (.xls); guárdelo como .xlsx o CSV."
        )
    if path.suffix.lower() in (".xlsx", ".xlsm") or b"\x00" in head:
        raise ImportFileError(f"{path.name} no es un archivo CSV ni XLSX.")
    return _read_csv(path, on_progress)


def _detect_encoding(path: Path) -> str:
    """UTF-8 (with or without BOM) when the whole file decodes strictly, else Windows-1252.

    Decoding the bytes once up front is cheap next to parsing, and it lets a row late in the
    file decide the encoding without re-reading rows already validated.
    """
    for encoding in ("utf-8-sig", "cp1252"):
        decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
        try:
            with path.open("rb") as fh:
                while chunk := fh.read(1 << 20):
                    decoder.decode(chunk)
                decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            continue
        return encoding
    raise ImportFileError(
        f"{path.name} no está en UTF-8 ni en Windows-1252; guárdelo como «CSV UTF-8»."
    )


def _pick_delimiter(first_line: str) -> str:
    """Comma, unless the header clearly uses semicolons (Excel in some locales does)."""
    if "," in first_line:
        return ","
    names = {_header_key(p) for p in first_line.split(";")}
    if ";" in first_line and len(names & set(REQUIRED)) >= 2:
        return ";"
    return ","


def _read_csv(path: Path, on_progress: ProgressCallback | None) -> ReadResult:
    encoding = _detect_encoding(path)
    with path.open("r", encoding=encoding, newline="") as fh:
        first_line = fh.readline()
        fh.seek(0)
        delimiter = _pick_delimiter(first_line)
        reader = csv.reader(fh, delimiter=delimiter, strict=False)

        def records() -> Iterator[tuple[int, list[object]]]:
            previous_end = 0
            try:
                for record in reader:
                    # A quoted field may span lines: the record starts after the last one ended.
                    start = previous_end + 1
                    previous_end = reader.line_num
                    yield start, record
            except csv.Error as exc:
                raise ImportFileError(
                    f"{path.name}: el CSV está mal formado cerca de la línea "
                    f"{reader.line_num}: {exc}."
                ) from None

        result = _validate(records(), path.name, on_progress)
    result.encoding = encoding
    return result


def _read_xlsx(path: Path, on_progress: ProgressCallback | None) -> ReadResult:
    import zipfile

    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, ValueError, OSError):
        raise ImportFileError(f"{path.name} no es un libro XLSX válido o está dañado.") from None
    try:
        sheet = workbook.worksheets[0] if workbook.worksheets else None
        if sheet is None:
            raise ImportFileError(f"{path.name} no tiene hojas.")
        rows = (
            (number, list(values))
            for number, values in enumerate(sheet.iter_rows(values_only=True), start=1)
        )
        result = _validate(rows, path.name, on_progress)
    finally:
        workbook.close()
    result.encoding = "xlsx"
    return result
