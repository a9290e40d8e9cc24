"""The insurer's file after its header: the columns it names, then each row validated into a
`ReceiptRow` or refused with the file's line number, the column, the value and a Spanish
reason (importer/reader.py opens the file; importer/fields.py checks each field). Most rows
take a quick path; anything unusual takes the full one, which decides and explains."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from paylink_tui.domain.errors import ImportFileError
from paylink_tui.domain.money import CENT, InvalidAmount, parse_currency
from paylink_tui.domain.results import RowError
from paylink_tui.domain.text import (
    UNSAFE_RE,
    describe_char,
    find_bidi_char,
    find_control_char,
    fold,
)
from paylink_tui.domain.whatsapp import PHONE_PROBLEM, whatsapp_number
from paylink_tui.importer.fields import (
    _amount,
    _due_date,
    _number_problem,
    _Rejected,
    normalize_email,
)

COLUMNS = (
    "poliza", "recibo", "ramo", "nombre", "apellido_paterno", "apellido_materno",
    "email", "telefono", "monto", "moneda", "vencimiento", "agente",
)
REQUIRED = ("poliza", "recibo", "nombre", "apellido_paterno", "monto", "vencimiento")

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
