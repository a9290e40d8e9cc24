"""Reading the insurer's CSV/XLSX export: encodings, headers, and every kind of bad row."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import Workbook

from paylink_tui.importer.reader import ImportFileError, RowError, read_receipts

DATA = Path(__file__).parent / "data" / "import"
HEADER = ("poliza,recibo,ramo,nombre,apellido_paterno,apellido_materno,email,telefono,"
          "monto,moneda,vencimiento")
GOOD = "AU1,R1,Autos,José,Peña,Muñoz,jose@example.com,55 1234 5678,75.17,MXN,07/10/2021"


def write(tmp_path: Path, text: str, name: str = "pendientes.csv", encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def one_error(tmp_path: Path, row: str) -> RowError:
    result = read_receipts(write(tmp_path, f"{HEADER}\n{row}\n"))
    assert result.rows == []
    assert len(result.errors) == 1, result.errors
    return result.errors[0]


def test_good_file_gives_exact_rows():
    result = read_receipts(DATA / "pendientes_ejemplo.csv")
    assert result.errors == []
    assert result.total_rows == 4
    first, second, rosa, jose = result.rows
    assert (first.line, first.policy, first.receipt, first.ramo) == (2, "AU21000000", "4100000001", "Autos")
    assert (first.first_name, first.last_name, first.second_last_name) == ("Sofía", "Ibáñez", "Avendaño")
    assert first.amount == Decimal("75.17") and first.currency == "MXN"
    assert first.due_date == date(2021, 10, 7)
    assert second.amount == Decimal("1234.56") and second.due_date == date(2021, 11, 7)
    # Rich markup in a name is a valid name, kept exactly as written.
    assert rosa.first_name == "[bold]Rosa[/bold]"
    assert rosa.email is None and rosa.phone is None
    assert rosa.amount == Decimal("2500.00") and rosa.currency == "MXN"  # empty moneda = MXN
    assert jose.currency == "USD" and jose.second_last_name is None
    assert result.present_receipts == {"4100000001", "4100000004", "4100000010", "4100000007"}


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1252"])
def test_each_encoding_reads_accents_and_enye(tmp_path, encoding):
    path = write(tmp_path, f"{HEADER}\r\n{GOOD}\r\nAU2,R2,,Inés,Ibáñez,,,,10.00,,01/02/2024\r\n",
                 encoding=encoding)
    result = read_receipts(path)
    assert result.errors == []
    assert [(r.first_name, r.last_name, r.second_last_name) for r in result.rows] == [
        ("José", "Peña", "Muñoz"), ("Inés", "Ibáñez", None)]


def test_bom_does_not_end_up_in_the_first_header(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbf" + f"{HEADER}\n{GOOD}\n".encode())
    result = read_receipts(path)
    assert result.errors == [] and result.rows[0].policy == "AU1"


def test_windows_1252_file_as_excel_writes_it(tmp_path):
    result = read_receipts(DATA / "pendientes_cp1252.csv")  # header "póliza", CRLF, no BOM
    assert result.encoding == "cp1252"
    assert [r.last_name for r in result.rows] == ["Peña", "Ibáñez"]
    assert result.rows[1].amount == Decimal("1234.56")


def test_headers_in_any_order_any_case_with_spaces_and_extra_columns(tmp_path):
    text = (" VENCIMIENTO ,Monto,Apellido_Paterno,Nombre,notas,RECIBO, Poliza \n"
            "2024-02-29,\"$1,000.00\",Gómez,Ana,cualquier cosa,R9,P9\n")
    result = read_receipts(write(tmp_path, text))
    assert result.errors == []
    row = result.rows[0]
    assert (row.policy, row.receipt, row.first_name, row.last_name) == ("P9", "R9", "Ana", "Gómez")
    assert row.amount == Decimal("1000.00") and row.due_date == date(2024, 2, 29)
    assert row.email is None and row.ramo is None


def test_semicolon_separated_file_is_recognised(tmp_path):
    text = "poliza;recibo;nombre;apellido_paterno;monto;vencimiento\nP1;R1;Ana;Peña;1.234,00x;01/01/2024\nP2;R2;Luis;Muñoz;99.50;01/01/2024\n"
    result = read_receipts(write(tmp_path, text))
    assert [r.receipt for r in result.rows] == ["R2"]
    assert str(result.errors[0]).startswith("línea 2, columna monto")


def test_duplicate_receipt_rejects_the_later_row_naming_the_first_line(tmp_path):
    text = f"{HEADER}\n{GOOD}\nAU9,R7,,Ana,Ruiz,,,,5.00,,01/01/2024\n{GOOD.replace('75.17', '80.00')}\n"
    result = read_receipts(write(tmp_path, text))
    assert [r.line for r in result.rows] == [2, 3]
    assert len(result.errors) == 1
    assert str(result.errors[0]) == (
        "línea 4, columna recibo, valor «R1»: el recibo ya aparece en la línea 2")
    assert result.present_receipts == {"R1", "R7"}


@pytest.mark.parametrize(
    ("field", "value", "column", "reason"),
    [
        ("monto", "-5", "monto", "el monto no puede ser negativo"),
        ("monto", "0", "monto", "el monto debe ser mayor que cero"),
        ("monto", "12.345", "monto", "el monto no es un número válido"),
        ("monto", "abc", "monto", "el monto no es un número válido"),
        ("monto", "", "monto", "el monto está vacío"),
        ("vencimiento", "31/02/2024", "vencimiento", "la fecha no existe en el calendario"),
        ("vencimiento", "2023-02-29", "vencimiento", "la fecha no existe en el calendario"),
        ("vencimiento", "02/31/24", "vencimiento", "la fecha debe ser dd/mm/aaaa o aaaa-mm-dd"),
        ("vencimiento", "", "vencimiento", "el campo es obligatorio y está vacío"),
        ("email", "no-es-correo", "email", "el correo electrónico no es válido"),
        ("email", "ana@@example.com", "email", "el correo electrónico no es válido"),
        # The rule of every entry point and of the mail step (domain/address.py).
        ("email", "muñoz@gmail.com", "email",
         "el correo electrónico no es válido: lleva acentos, «ñ» u otras letras especiales antes"),
        ("email", "josé@gmail.com", "email", "el correo electrónico no es válido: lleva acentos"),
        ("moneda", "EUR", "moneda", "moneda desconocida «EUR» (use MXN o USD)"),
        ("poliza", "", "poliza", "el campo es obligatorio y está vacío"),
        ("poliza", "AU 1", "poliza", "la póliza solo admite letras"),
        ("poliza", "A" * 41, "poliza", "la póliza admite a lo más 40 caracteres"),
        ("recibo", "", "recibo", "el campo es obligatorio y está vacío"),
        ("nombre", "", "nombre", "el campo es obligatorio y está vacío"),
        ("apellido_paterno", "", "apellido_paterno", "el campo es obligatorio y está vacío"),
        ("apellido_materno", "X" * 101, "apellido_materno", "admite a lo más 100 caracteres"),
    ],
)
def test_bad_field_is_rejected_with_line_column_value_and_reason(
        tmp_path, field, value, column, reason):
    cells = dict(zip(HEADER.split(","), GOOD.split(","), strict=True))
    cells[field] = value
    error = one_error(tmp_path, ",".join(cells.values()))
    assert (error.line, error.column) == (2, column)
    assert error.value == value
    assert error.reason.startswith(reason)
    if value == "josé@gmail.com":
        assert error.reason.endswith("casi siempre es sin acentos, «jose@gmail.com»")


def test_error_text_reads_as_one_spanish_sentence(tmp_path):
    row = GOOD.replace("75.17", "-5")
    text = f"{HEADER}\n{GOOD.replace('R1', 'R0')}\n" * 1 + "\n" * 4 + row + "\n"
    result = read_receipts(write(tmp_path, text))
    # Blank lines are skipped but still count: the bad row is on the file's line 7.
    assert str(result.errors[0]) == "línea 7, columna monto, valor «-5»: el monto no puede ser negativo"


@pytest.mark.parametrize(
    ("char", "described"),
    [("\t", "tabulador"), ("\x1b", "escape (ESC)"), ("\x7f", "U+007F"), ("\x85", "U+0085"),
     ("\x01", "U+0001")],
)
def test_control_character_in_a_field_is_rejected(tmp_path, char, described):
    error = one_error(tmp_path, GOOD.replace("Peña", f"Pe{char}ña"))
    assert (error.line, error.column) == (2, "apellido_paterno")
    assert described in error.reason
    assert char not in str(error)  # shown escaped, so it cannot drive the terminal


@pytest.mark.parametrize("char", ["\u202e", "\u202d", "\u2066", "\u2067", "\u200f", "\u061c"])
def test_a_bidirectional_override_in_a_name_is_rejected_with_its_line_and_reason(tmp_path, char):
    # "Jos\u202eañeP" is shown as "JosPeña": the agent would read another client's name.
    text = f"{HEADER}\n{GOOD}\n{GOOD.replace('R1', 'R2').replace('José', f'Jos{char}é')}\n"
    result = read_receipts(write(tmp_path, text))
    assert [r.receipt for r in result.rows] == ["R1"]  # the good row is kept
    [error] = result.errors
    assert (error.line, error.column) == (3, "nombre")
    assert f"U+{ord(char):04X}" in error.reason and "sentido del texto" in error.reason
    assert char not in str(error)  # shown escaped, so it cannot reorder the message either


def test_line_break_inside_a_quoted_field_is_rejected_at_the_row_start_line(tmp_path):
    text = f'{HEADER}\n{GOOD}\nAU2,R2,,"Ana\nMaría",Ruiz,,,,5.00,,01/01/2024\nAU3,R3,,Eva,Cruz,,,,6.00,,01/01/2024\n'
    result = read_receipts(write(tmp_path, text))
    assert [(r.receipt, r.line) for r in result.rows] == [("R1", 2), ("R3", 5)]
    error = result.errors[0]
    assert (error.line, error.column) == (3, "nombre")
    assert "salto de línea" in error.reason and "\\n" in str(error)


def test_unquoted_thousands_comma_is_rejected_not_guessed(tmp_path):
    error = one_error(tmp_path, GOOD.replace("75.17", "1,234.56"))
    assert error.line == 2 and error.column is None
    assert "campos" in error.reason


def test_rich_markup_and_ampersand_in_names_are_valid_and_kept(tmp_path):
    row = "AU1,R1,,[bold]x[/bold],Peña & Hijos,[/],,,10.00,,01/01/2024"
    result = read_receipts(write(tmp_path, f"{HEADER}\n{row}\n"))
    assert result.errors == []
    r = result.rows[0]
    assert (r.first_name, r.last_name, r.second_last_name) == ("[bold]x[/bold]", "Peña & Hijos", "[/]")


def test_email_is_normalised(tmp_path):
    result = read_receipts(write(tmp_path, f"{HEADER}\n{GOOD.replace('jose@example.com', ' Jose@EXAMPLE.com ')}\n"))
    assert result.rows[0].email == "Jose@example.com"


def test_rejected_rows_still_count_as_present_for_a_full_import(tmp_path):
    text = f"{HEADER}\n{GOOD}\nAU2,R2,,Ana,Ruiz,,,,-1,,01/01/2024\n"
    result = read_receipts(write(tmp_path, text))
    assert result.present_receipts == {"R1", "R2"}
    assert result.total_rows == 2 and result.rejected_count == 1


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "está vacío"),
        (b"   \n\n", "está vacío"),
        (b"poliza,nombre,monto\nA,B,1\n",
         "faltan columnas obligatorias: recibo, apellido_paterno, vencimiento"),
        (b"\x00\x01\x02binary", "no es un archivo CSV ni XLSX"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "Excel antiguo"),
        (b"PK\x03\x04not really a zip", "no es un libro XLSX válido"),
        (b"poliza,poliza,recibo\n", "aparece dos veces"),
    ],
)
def test_unreadable_file_raises_a_spanish_message(tmp_path, content, message):
    path = tmp_path / "malo.csv"
    path.write_bytes(content)
    with pytest.raises(ImportFileError, match=message):
        read_receipts(path)


def test_missing_file_raises_a_spanish_message(tmp_path):
    with pytest.raises(ImportFileError, match="No existe el archivo"):
        read_receipts(tmp_path / "no-existe.csv")


def test_header_only_file_has_no_rows(tmp_path):
    result = read_receipts(write(tmp_path, HEADER + "\n"))
    assert result.rows == [] and result.errors == [] and result.total_rows == 0


def test_xlsx_with_typed_cells_and_text_cells(tmp_path):
    wb = Workbook()
    ws = wb.active
    ws.append(["Recibo", "Póliza", "Nombre", "Apellido Paterno", "Monto", "Moneda", "Vencimiento",
               "Email", "Telefono"])
    ws.append(["R1", "AU1", "José", "Peña", 75.17, "MXN", datetime(2021, 10, 7), None, 5512345678])
    ws.append([4100000004, 12345, "Inés", "Ibáñez", "1,234.56", None, "31/12/2021", "a@b.mx", None])
    ws.append(["R3", "AU3", "Ana", "Ruiz", 10.005, None, date(2021, 1, 1), None, None])
    ws.append([None, None, None, None, None, None, None, None, None])  # trailing blank row
    ws.append(["R5", "AU5", "Eva", "Cruz", -3, None, "31/02/2021", None, None])
    path = tmp_path / "pendientes.xlsx"
    wb.save(path)

    result = read_receipts(path)
    assert result.encoding == "xlsx" and result.total_rows == 4
    one, two = result.rows
    assert (one.line, one.amount, one.due_date, one.phone) == (2, Decimal("75.17"), date(2021, 10, 7), "5512345678")
    assert (two.line, two.receipt, two.policy) == (3, "4100000004", "12345")
    assert two.amount == Decimal("1234.56") and two.due_date == date(2021, 12, 31)
    assert [(e.line, e.column) for e in result.errors] == [
        (4, "monto"), (6, "monto"), (6, "vencimiento")]
    assert "más de dos decimales" in result.errors[0].reason


def test_xlsx_missing_columns_is_unreadable(tmp_path):
    wb = Workbook()
    wb.active.append(["poliza", "nombre"])
    path = tmp_path / "corto.xlsx"
    wb.save(path)
    with pytest.raises(ImportFileError, match="faltan columnas obligatorias"):
        read_receipts(path)


def test_progress_is_reported_while_streaming(tmp_path):
    lines = [HEADER] + [f"AU{i},R{i},,Ana,Ruiz,,,,5.00,,01/01/2024" for i in range(2500)]
    seen: list[int] = []
    result = read_receipts(write(tmp_path, "\n".join(lines) + "\n"), on_progress=seen.append)
    assert len(result.rows) == 2500
    assert seen == [1000, 2000, 2500]


# ---------------------------------------------------------------- the quick path

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from paylink_tui.importer.reader import COLUMNS, _quick_row, _validate_row  # noqa: E402

_CELLS = {
    "poliza": ["AU51000000", "GMM-2024/7", " VI1 ", "", "a" * 40, "a" * 41, "-X1", "AU 1",
               "AU5١"],
    "recibo": ["4100000001", "R-1.2_3", "", "4100000001 ", "r" * 41, "1\n2"],
    "ramo": ["Autos", "", "x" * 40, "x" * 41],
    "nombre": ["Teresa", "", "[bold]Rosa[/bold]", "n" * 100, "n" * 101, "Ana\x1b[2J"],
    "apellido_paterno": ["Domínguez", "", " Peña ", "p" * 101],
    "apellido_materno": ["López", "", "m" * 101],
    "email": ["teresa@hotmail.com", "", "Teresa@Hotmail.COM", "no-es-correo", "a@b",
              "josé@correo.mx", "x@ejemplo..mx"],
    "telefono": ["55 9960 5232", "", "+52 (55) 1234-5678", "55-abc", "1" * 31],
    "monto": ["6412.33", "1,234.56", "0", "0.00", "-5", "12.5", "12.345", "9999999999.99",
              "99999999999", "007.10", "$10", "", "1e3", "١٢"],
    "moneda": ["MXN", "usd", "", "EUR", " USD "],
    "vencimiento": ["27/10/2026", "2026-10-27", "31/02/2026", "1/2/2026", "27-10-2026", "",
                    "12/1//2026", "٢٧/١٠/٢٠٢٦", "²7/10/2026"],
    "agente": ["A001", "", " a-2.x_3 ", "1234", "k" * 40, "k" * 41, "A 1", "Ä1", "-A1",
               "A1\u202e"],
}


_VALID = {name: cells[0] for name, cells in _CELLS.items()}


def _check_quick_against_full(cells, order, seen_before):
    values = [cells[name] for name in order]
    columns = {name: i for i, name in enumerate(order)}
    positions = tuple(columns.get(name, -1) for name in COLUMNS)
    first_seen = {cells["recibo"].strip(): 2} if seen_before else {}
    quick = _quick_row(7, values, positions, len(values), first_seen)
    full, errors = _validate_row(7, values, columns, len(values), first_seen)
    if quick is not None:
        assert errors == [] and quick == full, (cells, errors)
    return quick


def test_the_quick_path_agrees_with_the_full_validation_on_every_single_odd_cell():
    # The quick path is an optimisation: whatever it accepts, the full validation must accept
    # with the very same row; anything else it must hand over (None).
    handed_over = 0
    for name, cells in _CELLS.items():
        for cell in cells:
            row = {**_VALID, name: cell}
            for seen_before in (False, True):
                handed_over += _check_quick_against_full(row, list(COLUMNS), seen_before) is None
    assert handed_over > len(_CELLS)  # the odd cells really went to the full validation


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(list(_CELLS)), max_size=3).flatmap(
           lambda names: st.fixed_dictionaries(
               {n: st.sampled_from(_CELLS[n]) if n in names else st.just(_VALID[n])
                for n in _CELLS})),
       st.permutations(list(COLUMNS)), st.booleans())
def test_the_quick_path_agrees_with_the_full_validation_on_mixed_rows(cells, order, seen):
    _check_quick_against_full(cells, order, seen)


def test_the_usual_export_row_takes_the_quick_path():
    values = ["AU51000000", "4100000001", "Autos", "Teresa", "Domínguez", "López",
              "teresa.dominguez83@hotmail.com", "55 9960 5232", "6412.33", "MXN", "27/10/2026",
              "a001"]
    positions = tuple(range(len(COLUMNS)))
    row = _quick_row(2, values, positions, len(values), {})
    assert row is not None and row.amount == Decimal("6412.33")
    assert row.agent_code == "A001"
    assert row.due_date == date(2026, 10, 27)
