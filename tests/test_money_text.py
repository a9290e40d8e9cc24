import unicodedata
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paylink_tui.domain.dates import long_date, parse_mit_datetime
from paylink_tui.domain.money import InvalidAmount, format_money, mit_amount, parse_amount, parse_currency
from paylink_tui.domain.text import find_control_char, fold


@pytest.mark.parametrize(("text", "value"), [
    ("75.17", "75.17"), ("1,234.56", "1234.56"), ("$1,234.56", "1234.56"), ("$ 10", "10.00"),
    ("1234.5", "1234.50"),
])
def test_amounts_parse_exactly(text, value):
    assert parse_amount(text) == Decimal(value)


@pytest.mark.parametrize("text", ["", "-5", "abc", "1.234", "12,34", "0", "1e5", "75.171"])
def test_bad_amounts_are_refused_in_spanish(text):
    with pytest.raises(InvalidAmount) as exc:
        parse_amount(text)
    assert "monto" in str(exc.value)


@given(st.decimals(min_value=Decimal("0.01"), max_value=Decimal("99999999.99"), places=2))
def test_amount_formats_round_trip(value):
    assert parse_amount(mit_amount(value)) == value
    assert parse_amount(format_money(value, "MXN")[2:-4]) == value


def test_money_display_matches_the_insurer():
    assert format_money(Decimal("75.17"), "MXN") == "$ 75.17 MXN"
    assert format_money(Decimal("1234.5"), "USD") == "$ 1,234.50 USD"


def test_currency_defaults_to_mxn_and_refuses_others():
    assert parse_currency("").value == "MXN"
    assert parse_currency("usd").value == "USD"
    with pytest.raises(InvalidAmount):
        parse_currency("EUR")


def test_fold_makes_search_accent_and_case_insensitive():
    assert fold("GÓMEZ Peña  Ibáñez") == "gomez pena ibanez"


def _fold_by_definition(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(stripped.casefold().split())


@given(st.text(alphabet=st.characters(max_codepoint=0x2FF) | st.sampled_from(
    ["\u0301", "\u0303", "\u0308", "ß", "ﬁ", "İ", "Ω", "\u00a0"])))
def test_fold_is_nfkd_without_marks_casefolded(text):
    # The fast path (a translation table for accented Latin letters) must agree with the
    # definition on everything, combining marks and odd letters included.
    assert fold(text) == _fold_by_definition(text)


def test_fold_agrees_with_the_definition_on_every_latin_letter():
    for code in range(0x20, 0x300):
        for text in (chr(code), f"Pe{chr(code)}a Núñez", f"{chr(code)}\u0301 x"):
            assert fold(text) == _fold_by_definition(text), repr(text)


@pytest.mark.parametrize("bad", ["a\rb", "a\nb", "a\tb", "\x1b[2J", "x\x00", "x\x7f", "x\x85"])
def test_control_characters_are_found(bad):
    assert find_control_char(bad) is not None


def test_markup_is_not_a_control_character():
    assert find_control_char("[bold]x[/bold]") is None


def test_dates_in_spanish_words():
    assert long_date(date(2021, 10, 10)) == "domingo 10 de octubre de 2021"
    assert long_date(date(2021, 10, 12)) == "martes 12 de octubre de 2021"


def test_mit_date_and_time_are_local_to_the_insurer():
    utc = parse_mit_datetime("07/10/21", "16:04:56", "America/Mexico_City")
    assert utc.isoformat() == "2021-10-07T21:04:56+00:00"


def test_status_labels_depend_on_what_the_status_belongs_to():
    from paylink_tui.domain.labels import label
    from paylink_tui.domain.status import LinkStatus, ReceiptStatus

    assert label(ReceiptStatus.PAID) == "Pagado"
    assert label(LinkStatus.PAID) == "Pagada"
    assert label(LinkStatus.EXPIRED) == "Vencida"
