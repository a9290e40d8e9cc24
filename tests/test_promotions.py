"""Meses sin intereses: the setting, which plans a link offers, MIT's promociones/promocion."""

from decimal import Decimal

import pytest

from paylink_tui.config import ConfigError, load_settings
from paylink_tui.domain.errors import LinkError, PlanRefused
from paylink_tui.domain.promotions import (
    InstallmentPlan,
    applicable_plans,
    choose_plans,
    installment_months,
    offer_text,
    offered_months,
    parse_msi_option,
    parse_promotions,
    payment_options,
    payment_text,
    plans_text,
    promociones,
    read_promociones,
)

TABLE = parse_promotions("3:300,6:600,9:900,12:1200")


def plan(months: int, minimum: str) -> InstallmentPlan:
    return InstallmentPlan(months, Decimal(minimum))


# -- the setting -------------------------------------------------------------------------------


def test_the_setting_is_months_and_minimum_in_pesos_sorted_by_months():
    assert parse_promotions(" 12:1200, 3:300 ,6 : 600.50,9:$900") == (
        plan(3, "300.00"), plan(6, "600.50"), plan(9, "900.00"), plan(12, "1200.00"))
    assert parse_promotions("") == () and parse_promotions(None) == () and parse_promotions("  ") == ()


@pytest.mark.parametrize(("text", "reason"), [
    ("3:abc", "«3:abc» no tiene la forma MESES:MÍNIMO"),
    ("3", "«3» no tiene la forma MESES:MÍNIMO"),
    ("3:300;6:600", "«3:300;6:600» no tiene la forma"),
    ("3:1,234.00", "«234.00» no es un plan: escriba los mínimos sin comas de miles"),
    ("3:300,", "sobra una coma"),
    ("3:-300", "no tiene la forma"),
    ("3:300.123", "no tiene la forma"),
    ("1:100", "«1:100»: los meses van de 2 a 99"),
    ("100:5", "«100:5»: los meses van de 2 a 99"),
    ("3:300,3:400", "el plan de 3 meses aparece dos veces"),
    (",".join(f"{m}:1" for m in range(2, 40)), "demasiados planes"),
])
def test_a_bad_setting_says_which_item_and_why(text, reason):
    with pytest.raises(ValueError) as exc:
        parse_promotions(text)
    assert reason in str(exc.value)


def test_an_invalid_setting_is_one_spanish_line_naming_it(monkeypatch):
    monkeypatch.setenv("PAYLINK_MIT_PROMOTIONS", "3:300,6:seiscientos")
    with pytest.raises(ConfigError) as exc:
        load_settings()
    assert str(exc.value) == ("Configuración inválida: PAYLINK_MIT_PROMOTIONS: «6:seiscientos» no "
                              "tiene la forma MESES:MÍNIMO (por ejemplo 3:300,6:600,9:900,12:1200).")


def test_the_setting_comes_from_the_toml_file_too(monkeypatch, tmp_path):
    path = tmp_path / "config.toml"
    path.write_text('mit_promotions = "6:600,3:300"\n', encoding="utf-8")
    monkeypatch.setenv("PAYLINK_CONFIG", str(path))
    assert load_settings().promotion_plans == (plan(3, "300"), plan(6, "600"))


def test_without_the_setting_there_are_no_plans():
    assert load_settings().mit_promotions is None and load_settings().promotion_plans == ()


# -- what a link offers ------------------------------------------------------------------------


@pytest.mark.parametrize(("amount", "months"), [
    ("299.99", ()), ("300.00", (3,)), ("899.99", (3, 6)), ("900.00", (3, 6, 9)),
    ("1200.00", (3, 6, 9, 12)), ("25000.00", (3, 6, 9, 12)),
])
def test_a_link_offers_every_plan_its_amount_reaches(amount, months):
    assert tuple(p.months for p in applicable_plans(Decimal(amount), "MXN", TABLE)) == months
    assert choose_plans(None, Decimal(amount), "MXN", TABLE) == months


def test_a_usd_link_offers_only_the_single_payment():
    assert applicable_plans(Decimal("25000"), "USD", TABLE) == ()
    assert choose_plans(None, Decimal("25000"), "USD", TABLE) == ()
    with pytest.raises(PlanRefused) as exc:
        choose_plans([3], Decimal("25000"), "USD", TABLE)
    assert "es en USD" in exc.value.message and "pesos (MXN)" in exc.value.message


def test_the_agent_may_offer_fewer_plans_or_none():
    assert choose_plans([12, 3, 3], Decimal("5000"), "MXN", TABLE) == (3, 12)
    assert choose_plans([], Decimal("5000"), "MXN", TABLE) == ()


def test_a_plan_below_its_minimum_is_refused_naming_the_plan_and_its_minimum():
    with pytest.raises(PlanRefused) as exc:
        choose_plans([3, 12], Decimal("750.00"), "MXN", TABLE)
    assert exc.value.message == (
        "No se generó la liga: el plan de 12 meses sin intereses requiere un monto mínimo de "
        "$ 1,200.00 MXN y la liga es por $ 750.00 MXN.")
    assert (exc.value.months, exc.value.minimum) == (12, Decimal("1200.00"))
    assert exc.value.extra() == {"months": 12, "minimum": "1200.00"}
    assert isinstance(exc.value, LinkError)  # the commands and the dialog show it as such


def test_a_plan_the_contract_lacks_is_refused_listing_the_enabled_ones():
    with pytest.raises(PlanRefused) as exc:
        choose_plans([18, 24], Decimal("50000"), "MXN", TABLE)
    text = exc.value.message
    assert "el plan de 18 meses sin intereses no está habilitado" in text
    assert "el plan de 24 meses sin intereses no está habilitado" in text
    assert "PAYLINK_MIT_PROMOTIONS habilita: 3 meses desde $ 300.00 MXN" in text
    with pytest.raises(PlanRefused, match="no hay planes configurados en PAYLINK_MIT_PROMOTIONS"):
        choose_plans([3], Decimal("50000"), "MXN", ())


@pytest.mark.parametrize(("text", "months"), [("no", ()), ("NO", ()), ("3,6", (3, 6)),
                                              (" 12, 3 ,3", (3, 12))])
def test_the_msi_option(text, months):
    assert parse_msi_option(text) == months


@pytest.mark.parametrize("text", ["", "tres", "3;6", "1", "100", "3,,6", "-3"])
def test_a_bad_msi_option_is_explained(text):
    with pytest.raises(ValueError, match="no es un plan: use «no» o los meses"):
        parse_msi_option(text)


# -- MIT's words -------------------------------------------------------------------------------


def test_promociones_always_starts_with_the_single_payment():
    assert promociones([]) == "C"
    assert promociones([12, 3, 6, 3]) == "C,3,6,12"


@pytest.mark.parametrize(("text", "months"), [
    (None, ()), ("", ()), ("C", ()), ("C,3,6", (3, 6)), ("3,6", (3, 6)), ("C,12", (12,))])
def test_promociones_is_read_back(text, months):
    assert read_promociones(text) == months


@pytest.mark.parametrize("text", ["C,", "C,0", "C,03", "C,100", "3,C", "C;3", "c,3", "C,3,"
                                  + ",".join(["99"] * 13)])
def test_promociones_outside_mits_pattern_is_refused(text):
    with pytest.raises(ValueError):
        read_promociones(text)


def test_a_stored_value_we_did_not_write_reads_as_the_single_payment():
    assert offered_months("C,3,6") == (3, 6)
    assert offered_months("C,tres") == () and offered_months(None) == ()


@pytest.mark.parametrize(("promocion", "months"), [
    ("C", None), ("", None), (None, None), ("3", 3), (" 12 ", 12), ("06", 6), ("0", None),
    ("MSI", None), ("123", None), ("3 meses", None)])
def test_the_plan_a_notification_says_the_client_chose(promocion, months):
    assert installment_months(promocion) == months


def test_the_words_the_agent_and_the_client_read():
    assert plans_text([6]) == "6 meses sin intereses"
    assert plans_text([12, 3, 6]) == "3, 6 o 12 meses sin intereses"
    assert payment_text(6) == "6 meses sin intereses" and payment_text(None) == "una sola exhibición"
    assert payment_text(1) == "1 mes sin intereses"
    assert payment_options([3, 6]) == "una sola exhibición o 3 o 6 meses sin intereses"
    assert offer_text([]) == "Pago en una sola exhibición."
    assert offer_text([3]) == ("Puede pagar en una sola exhibición o a 3 meses sin intereses con "
                               "tarjeta de crédito.")
