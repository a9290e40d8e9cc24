"""Read the insurer's export of pending receipts (CSV or XLSX) into validated rows.

The reader never touches the database: it turns a file into `ReceiptRow`s plus the list of
rejected rows, each with the file's line number, the column, the value and a Spanish reason.
Rows are streamed (csv module, openpyxl read-only) so a file of a million rows does not have
to fit in memory as text.
"""

from __future__ import annotations

import codecs
import csv
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path

from paylink_tui.domain import address
from paylink_tui.domain.errors import ImportFileError  # noqa: F401 - re-exported
from paylink_tui.domain.money import CENT, InvalidAmount, parse_amount, parse_currency
from paylink_tui.domain.results import RowError, printable  # noqa: F401 - re-exported
from paylink_tui.domain.text import (
    UNSAFE_RE,
    describe_char,
    find_bidi_char,
    find_control_char,
    fold,
)
from paylink_tui.domain.whatsapp import PHONE_PROBLEM, whatsapp_number

COLUMNS = (
    "poliza", "recibo", "ramo", "nombre", "apellido_paterno", "apellido_materno",
    "email", "telefono", "monto", "moneda", "vencimiento", "agente",
)
REQUIRED = ("poliza", "recibo", "nombre", "apellido_paterno", "monto", "vencimiento")

MAX_NUMBER_LEN = 40  # policy and receipt numbers
MAX_NAME_LEN = 100  # each name part
MAX_RAMO_LEN = 40
MAX_AGENT_CODE_LEN = 40  # the insurer's agent code ("clave de agente"), optional column
MAX_PHONE_LEN = 30
PROGRESS_EVERY = 1000

ProgressCallback = Callable[[int], None]


@dataclass(slots=True)  # not frozen: a frozen dataclass takes 4 µs to build, 100,000 times
class ReceiptRow:
    line: int
    policy: str
    receipt: str
    ramo: str | None
    first_name: str
    last_name: str
    second_last_name: str | None
    email: str | None
    phone: str | None
    amount: Decimal
    currency: str
    due_date: date
    # The insurer's agent code (column `agente`), upper case; None: the file gives none.
    agent_code: str | None = None


@dataclass(slots=True)
class ReadResult:
    rows: list[ReceiptRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    # Rows accepted whose phone gets no WhatsApp (domain/whatsapp.py): reported, not rejected.
    phone_warnings: list[RowError] = field(default_factory=list)
    present_receipts: set[str] = field(default_factory=set)
    total_rows: int = 0
    encoding: str | None = None

    @property
    def rejected_lines(self) -> list[int]:
        return sorted({e.line for e in self.errors})

    @property
    def rejected_count(self) -> int:
        return len({e.line for e in self.errors})



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


# ---------------------------------------------------------------- header and rows


def _header_key(raw: object) -> str:
    """`" Apellido Paterno "`, `APELLIDO_PATERNO`, `Póliza` all name the same column."""
    text = "" if raw is None else str(raw)
    return fold(text).replace(" ", "_").replace("-", "_")


def _is_blank(values: list[object]) -> bool:
    try:
        return not "".join(values).strip()  # type: ignore[arg-type]  # CSV: all text
    except TypeError:
        return all(v is None or (isinstance(v, str) and not v.strip()) for v in values)


def _validate(
    records: Iterable[tuple[int, list[object]]],
    file_name: str,
    on_progress: ProgressCallback | None,
) -> ReadResult:
    result = ReadResult()
    iterator = iter(records)
    columns: dict[str, int] | None = None
    width = 0
    for _line, values in iterator:
        if _is_blank(values):
            continue
        columns = {}
        for index, raw in enumerate(values):
            key = _header_key(raw)
            if key in COLUMNS:
                if key in columns:
                    raise ImportFileError(f"{file_name}: la columna «{key}» aparece dos veces.")
                columns[key] = index
        width = len(values)
        break
    if columns is None:
        raise ImportFileError(f"El archivo {file_name} está vacío.")
    missing = [c for c in REQUIRED if c not in columns]
    if missing:
        raise ImportFileError(
            f"{file_name}: faltan columnas obligatorias: {', '.join(missing)} "
            f"(se esperan: {', '.join(COLUMNS)})."
        )

    first_seen: dict[str, int] = {}
    done = 0
    positions = tuple(columns.get(name, -1) for name in COLUMNS)
    rows, present = result.rows, result.present_receipts
    for line, values in iterator:
        row = _quick_row(line, values, positions, width, first_seen)
        if row is not None:  # the common case; never a blank line (it has a policy)
            rows.append(row)
            present.add(row.receipt)
            first_seen[row.receipt] = line  # _quick_row refuses a receipt seen before
        else:
            if _is_blank(values):
                continue
            notes: list[RowError] = []
            row, errors = _validate_row(line, values, columns, width, first_seen, notes)
            receipt = _cell_text(values, columns["recibo"]).strip()
            if receipt:
                present.add(receipt)
            if errors:
                result.errors.extend(errors)
            else:
                assert row is not None
                rows.append(row)
                result.phone_warnings.extend(notes)
            if receipt and receipt not in first_seen:
                first_seen[receipt] = line
        result.total_rows += 1
        done += 1
        if on_progress is not None and done % PROGRESS_EVERY == 0:
            on_progress(done)
    if on_progress is not None:
        on_progress(done)
    return result


def _cell_text(values: list[object], index: int) -> str:
    if index >= len(values):
        return ""
    value = values[index]
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # XLSX stores 12345 typed as a number as 12345.0
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else str(value)
    return str(value)


_NUMBER_RE = re.compile(r"^[0-9A-Za-z][0-9A-Za-z./\-_]*$")
_DMY_RE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")
_ISO_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:[ T]00:00(?::00)?)?$")


class _Rejected(ValueError):
    pass


_EMPTY = ""
_QUICK_NUMBER_RE = re.compile(r"[0-9A-Za-z][0-9A-Za-z./\-_]{0,39}")
# The same alphabet as users' codes (services/users.py), upper case.
_AGENT_CODE_RE = re.compile(r"[A-Z0-9][A-Z0-9._\-]{0,39}")  # MAX_AGENT_CODE_LEN
_QUICK_AMOUNT_RE = re.compile(r"[0-9]{1,10}(?:\.[0-9]{2})?")


def _quick_row(
    line: int,
    values: list[object],
    positions: tuple[int, ...],
    width: int,
    first_seen: dict[str, int],
) -> ReceiptRow | None:
    """The row, when it is plainly valid text in the usual shapes; None sends it to
    `_validate_row`, which decides and explains.

    Most rows of an insurer's export are like this, and 100,000 of them must import in
    seconds; everything unusual (a control character, an amount with thousands separators,
    an ISO date, an empty required field, a number cell from XLSX) takes the full path. A test
    checks that whatever this accepts, `_validate_row` accepts identically.
    """
    if len(values) != width:
        return None
    try:
        if UNSAFE_RE.search(_EMPTY.join(values)):  # type: ignore[arg-type]
            return None
    except TypeError:  # not all text: an XLSX row
        return None
    (i_policy, i_receipt, i_ramo, i_first, i_last, i_second, i_email, i_phone, i_amount,
     i_currency, i_due, i_agent) = positions
    policy = values[i_policy].strip()  # type: ignore[union-attr]
    receipt = values[i_receipt].strip()  # type: ignore[union-attr]
    if (not _QUICK_NUMBER_RE.fullmatch(policy) or not _QUICK_NUMBER_RE.fullmatch(receipt)
            or receipt in first_seen):
        return None
    ramo = values[i_ramo].strip() if i_ramo >= 0 else ""  # type: ignore[union-attr]
    first = values[i_first].strip()  # type: ignore[union-attr]
    last = values[i_last].strip()  # type: ignore[union-attr]
    second = values[i_second].strip() if i_second >= 0 else ""  # type: ignore[union-attr]
    if (len(ramo) > MAX_RAMO_LEN or not first or not last or len(first) > MAX_NAME_LEN
            or len(last) > MAX_NAME_LEN or len(second) > MAX_NAME_LEN):
        return None
    email = values[i_email].strip() if i_email >= 0 else ""  # type: ignore[union-attr]
    if email:
        try:
            email = normalize_email(email)
        except _Rejected:
            return None
    phone = values[i_phone].strip() if i_phone >= 0 else ""  # type: ignore[union-attr]
    if phone and whatsapp_number(phone) is None:
        return None  # kept, but reported: the full path says why
    amount_text = values[i_amount].strip()  # type: ignore[union-attr]
    if not _QUICK_AMOUNT_RE.fullmatch(amount_text):
        return None
    amount = Decimal(amount_text).quantize(CENT)
    if not amount:
        return None
    currency = (values[i_currency].strip().upper()  # type: ignore[union-attr]
                if i_currency >= 0 else "") or "MXN"
    if currency not in ("MXN", "USD"):
        return None
    due_text = values[i_due].strip()  # type: ignore[union-attr]
    if not (len(due_text) == 10 and due_text[2] == "/" and due_text[5] == "/"
            and due_text[:2].isdigit() and due_text[3:5].isdigit() and due_text[6:].isdigit()):
        return None
    try:
        due = date(int(due_text[6:]), int(due_text[3:5]), int(due_text[:2]))
    except ValueError:
        return None
    agent = values[i_agent].strip().upper() if i_agent >= 0 else ""  # type: ignore[union-attr]
    if agent and not _AGENT_CODE_RE.fullmatch(agent):
        return None
    return ReceiptRow(line, policy, receipt, ramo or None, first, last, second or None,
                      email or None, phone or None, amount, currency, due, agent or None)


def _validate_row(
    line: int,
    values: list[object],
    columns: dict[str, int],
    width: int,
    first_seen: dict[str, int],
    notes: list[RowError] | None = None,
) -> tuple[ReceiptRow | None, list[RowError]]:
    """The row, or the reasons it is rejected. `notes` gets what is reported of a row that is
    accepted anyway (a phone without WhatsApp)."""
    notes = [] if notes is None else notes
    errors: list[RowError] = []
    if len(values) > width and any(v not in (None, "") for v in values[width:]):
        # An unquoted "1,234.56" splits into two cells: never guess which one was meant.
        errors.append(RowError(
            line, None, "",
            f"la fila tiene {len(values)} campos y el encabezado {width} "
            "(¿un valor con coma sin comillas?)",
        ))
        return None, errors

    count = len(values)
    texts = {
        name: (v if type(v) is str else _cell_text(values, index))
        for name, index in columns.items()
        for v in (values[index] if index < count else "",)
    }
    if UNSAFE_RE.search(_EMPTY.join(texts.values())):
        for name, raw in texts.items():
            bad = find_control_char(raw)
            if bad is not None:
                errors.append(RowError(line, name, raw, f"contiene un {describe_char(bad)}"))
            elif (bidi := find_bidi_char(raw)) is not None:
                # "Ana\u202eZEREP" is shown as "AnaPEREZ": the name would read as another.
                errors.append(RowError(
                    line, name, raw,
                    f"contiene un carácter invisible que cambia el sentido del texto "
                    f"(U+{ord(bidi):04X}): se leería distinto de lo que es"))
        return None, errors
    for name, raw in texts.items():
        texts[name] = raw.strip()

    def reject(name: str, reason: str) -> None:
        errors.append(RowError(line, name, texts.get(name, ""), reason))

    policy = texts["poliza"]
    reason = _number_problem(policy, "la póliza")
    if reason:
        reject("poliza", reason)
    receipt = texts["recibo"]
    reason = _number_problem(receipt, "el recibo")
    if reason:
        reject("recibo", reason)
    elif receipt in first_seen:
        reject("recibo", f"el recibo ya aparece en la línea {first_seen[receipt]}")
    ramo = texts.get("ramo", "")
    if len(ramo) > MAX_RAMO_LEN:
        reject("ramo", f"admite a lo más {MAX_RAMO_LEN} caracteres")
    # Names are stored exactly as written: "[bold]x[/bold]" is a valid (odd) name and the
    # UI must show it literally, so nothing here strips or interprets markup.
    for name in ("nombre", "apellido_paterno", "apellido_materno"):
        value = texts.get(name, "")
        if not value and name != "apellido_materno":
            reject(name, "el campo es obligatorio y está vacío")
        elif len(value) > MAX_NAME_LEN:
            reject(name, f"admite a lo más {MAX_NAME_LEN} caracteres")
    email = texts.get("email", "")
    if email:
        try:
            email = normalize_email(email)
        except _Rejected as exc:
            reject("email", str(exc))
    phone = texts.get("telefono", "")
    if phone and whatsapp_number(phone) is None:
        # Not a reason to refuse the receipt: the phone is kept as written (the agent may
        # call it), without WhatsApp; one too long to be a phone is not kept.
        if len(phone) > MAX_PHONE_LEN:
            notes.append(RowError(line, "telefono", phone,
                                  f"el teléfono tiene más de {MAX_PHONE_LEN} caracteres: no "
                                  "se guardó (sin WhatsApp)"))
            phone = ""
        else:
            notes.append(RowError(line, "telefono", phone, f"el teléfono {PHONE_PROBLEM}"))
    amount = _amount(line, values, columns["monto"], texts["monto"], errors)
    currency = texts.get("moneda", "").upper()
    if currency not in ("MXN", "USD"):
        try:
            currency = parse_currency(currency).value
        except InvalidAmount as exc:
            reject("moneda", str(exc))
    due = _due_date(line, values, columns["vencimiento"], texts["vencimiento"], errors)
    agent = texts.get("agente", "").upper()
    if agent and not _AGENT_CODE_RE.fullmatch(agent):
        reject("agente", f"la clave de agente admite letras, números, punto, guion y guion "
                         f"bajo, a lo más {MAX_AGENT_CODE_LEN} caracteres")
    if errors:
        return None, errors
    return ReceiptRow(
        line, policy, receipt, ramo or None, texts["nombre"], texts["apellido_paterno"],
        texts.get("apellido_materno") or None, email or None, phone or None,
        amount, currency, due, agent or None,  # type: ignore[arg-type]
    ), errors


def _number_problem(value: str, what: str) -> str | None:
    if not value:
        return "el campo es obligatorio y está vacío"
    if len(value) > MAX_NUMBER_LEN:
        return f"{what} admite a lo más {MAX_NUMBER_LEN} caracteres"
    if not _NUMBER_RE.match(value):
        return f"{what} solo admite letras, dígitos, «-», «/», «.» y «_», sin espacios"
    return None


_ASCII_LOCAL_RE = re.compile(
    r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$"
)


@lru_cache(maxsize=4096)
def _email_domain(domain: str) -> str:
    """The normalized domain, validated once: a file repeats a handful of domains."""
    return address.validated(f"x@{domain}").domain


def normalize_email(value: str) -> str:
    """The address as domain/address.py normalises it: the one rule of every entry point
    and of the mail step, so an imported address is one the link email can go to.

    The common plain-ASCII local part is checked here and only the domain goes through the
    validator (cached); anything else takes the rule's full path, with its reason.
    """
    local, at, domain = value.rpartition("@")
    if at and len(local) <= 64 and len(value) <= 254 and _ASCII_LOCAL_RE.match(local):
        try:
            return f"{local}@{_email_domain(domain)}"
        except address.AddressRefused:
            pass  # the full path says why
    try:
        return address.normalized(value)
    except address.AddressRefused as exc:
        raise _Rejected(f"el correo electrónico no es válido: {exc.reason}") from None


def _amount(
    line: int, values: list[object], index: int, text: str, errors: list[RowError]
) -> Decimal | None:
    raw = values[index] if index < len(values) else None
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        # A numeric XLSX cell: Excel keeps binary floats; accept only what shows as cents.
        exact = Decimal(repr(raw))
        cents = exact.quantize(CENT)
        if abs(exact - cents) > Decimal("0.000001"):
            errors.append(RowError(line, "monto", text, "el monto tiene más de dos decimales"))
            return None
        text = f"{cents:f}"
    try:
        return parse_amount(text)
    except (InvalidAmount, InvalidOperation) as exc:
        errors.append(RowError(line, "monto", text, str(exc)))
        return None


def _due_date(
    line: int, values: list[object], index: int, text: str, errors: list[RowError]
) -> date | None:
    raw = values[index] if index < len(values) else None
    if isinstance(raw, datetime):
        return raw.date()
    if isinstance(raw, date):
        return raw
    if not text:
        errors.append(RowError(line, "vencimiento", text, "el campo es obligatorio y está vacío"))
        return None
    if len(text) == 10 and text[2] == "/" and text[5] == "/" and text.replace("/", "").isdigit():
        try:  # the usual dd/mm/yyyy, without the regex
            return date(int(text[6:]), int(text[3:5]), int(text[:2]))
        except ValueError:
            errors.append(RowError(line, "vencimiento", text,
                                   "la fecha no existe en el calendario"))
            return None
    m = _DMY_RE.match(text)
    if m:
        day, month, year = (int(g) for g in m.groups())
    else:
        m = _ISO_RE.match(text)
        if not m:
            errors.append(RowError(
                line, "vencimiento", text, "la fecha debe ser dd/mm/aaaa o aaaa-mm-dd"
            ))
            return None
        year, month, day = (int(g) for g in m.groups())
    try:
        return date(year, month, day)
    except ValueError:
        errors.append(RowError(line, "vencimiento", text, "la fecha no existe en el calendario"))
        return None
