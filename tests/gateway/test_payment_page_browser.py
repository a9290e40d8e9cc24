"""The sandbox's payment page in a real headless Chromium (Playwright, sync API)."""

from __future__ import annotations

import os
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pendulum
import pytest

from paylink_tui.gateway import sandbox_defaults as sd
from paylink_tui.gateway.base import LinkRequest
from paylink_tui.gateway.messages import parse_notification

CHROMIUM = "/usr/bin/chromium"
TZ = "America/Mexico_City"

pytestmark = pytest.mark.chromium


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true and {CHROMIUM} is missing")
        pytest.skip(f"{CHROMIUM} is not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(locale="es-MX")
    pg = context.new_page()
    pg.set_default_timeout(10_000)
    yield pg
    context.close()


def make_link(env, reference="PL-B1", amount="75.17", plans=()):
    today = pendulum.instance(env.clock()).in_timezone(TZ).date()
    with env.gateway() as gw:
        return gw.create_link(LinkRequest(reference, Decimal(amount), "MXN",
                                          today + timedelta(days=3), "ana@example.com",
                                          (("Póliza", "P-77"),), plans=tuple(plans)))


def fill(page, card="4111 1111 1111 1111", terms=True):
    page.get_by_label("Nombre", exact=True).fill("Ana")
    page.get_by_label("Apellido Paterno").fill("Peña")
    page.get_by_label("Apellido Materno").fill("Ruiz")
    page.get_by_label("Número de tarjeta").fill(card)
    page.get_by_label("Expira (MM/AA)").fill("12/39")
    page.get_by_label("CVV").fill("123")
    if terms:
        page.get_by_label("Acepto Términos y condiciones").check()


def test_paying_shows_aprobado_and_the_notification_carries_every_field(page, sandbox_env):
    link = make_link(sandbox_env)
    page.goto(link.url)
    assert page.locator("#monto").inner_text() == "$ 75.17 MXN"
    assert page.get_by_label("Correo electrónico").input_value() == "ana@example.com"
    fill(page)
    page.get_by_role("button", name="PAGAR $ 75.17").click()
    assert page.locator("#estado").inner_text() == "Aprobado"
    assert page.locator("#empresa").inner_text() == "AXA"
    shown_date = page.locator("#fecha").inner_text()
    folio = page.locator("#folio").inner_text()
    auth = page.locator("#autorizacion").inner_text()

    assert sandbox_env.sandbox.wait_idle_sync(10)
    [body] = sandbox_env.receiver.bodies
    n = parse_notification(body, sd.SANDBOX_KEY)
    assert (n.reference, n.response, n.folio, n.auth, n.cd_response, n.cd_error, n.nb_error) == (
        "PL-B1", "approved", folio, auth, "0C", "", "")
    assert f"{n.date} {n.time}" == shown_date
    assert (n.nb_company, n.nb_merchant, n.cc_type, n.tp_operation) == (
        "AXA", "1234567 WEBPAYPLUS", "CREDITO/BANCO MIT/Visa", "VENTA")
    assert (n.cc_name, n.cc_number, n.cc_mask, n.amount) == (
        "Ana Peña Ruiz", "1111", "411111XXXXXX1111", Decimal("75.17"))
    assert (n.id_url, n.email, n.extra) == (link.link_id, "ana@example.com",
                                            (("Póliza", "P-77"),))


def test_a_denied_card_then_another_card_approves(page, sandbox_env):
    link = make_link(sandbox_env, "PL-B2")
    page.goto(link.url)
    fill(page, card="4000 0000 0000 0002")
    page.get_by_role("button", name="PAGAR $ 75.17").click()
    assert page.locator("#estado").inner_text() == "Rechazado"
    page.get_by_role("link", name="Intentar con otra tarjeta").click()
    fill(page)
    page.get_by_role("button", name="PAGAR $ 75.17").click()
    assert page.locator("#estado").inner_text() == "Aprobado"
    assert sandbox_env.sandbox.wait_idle_sync(10)
    responses = [parse_notification(b, sd.SANDBOX_KEY).response
                 for b in sandbox_env.receiver.bodies]
    assert responses == ["denied", "approved"]


def test_an_expired_link_says_liga_vencida(page, sandbox_env):
    link = make_link(sandbox_env, "PL-B3")
    sandbox_env.clock.advance(days=10)
    page.goto(link.url)
    assert page.locator("#estado").inner_text() == "Liga vencida"
    assert page.get_by_role("button").count() == 0


def test_a_bad_card_number_is_reported_next_to_its_field(page, sandbox_env):
    link = make_link(sandbox_env, "PL-B4")
    page.goto(link.url)
    fill(page, card="4111 1111 1111 1112", terms=False)
    page.get_by_role("button", name="PAGAR $ 75.17").click()
    card_error = page.locator("#error-tarjeta")
    assert "no es válido" in card_error.inner_text()
    assert "Términos y condiciones" in page.locator("#error-terminos").inner_text()
    # the message sits right under its own input, and the input points to it
    assert page.get_by_label("Número de tarjeta").get_attribute("aria-describedby") == (
        "error-tarjeta")
    field_box = page.get_by_label("Número de tarjeta").bounding_box()
    error_box = card_error.bounding_box()
    assert 0 <= error_box["y"] - (field_box["y"] + field_box["height"]) < 40
    assert page.get_by_label("Apellido Paterno").input_value() == "Peña"
    assert page.get_by_label("Número de tarjeta").input_value() == ""
    assert sandbox_env.receiver.bodies == []


def test_at_375px_the_pay_button_fits_the_viewport(browser, sandbox_env, tmp_path):
    link = make_link(sandbox_env, "PL-B5", "1234567.89")
    context = browser.new_context(viewport={"width": 375, "height": 812}, locale="es-MX")
    try:
        page = context.new_page()
        page.goto(link.url)
        shot = tmp_path / "pago-375.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 0
        button = page.get_by_role("button", name="PAGAR $ 1,234,567.89")
        box = button.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 375
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
    finally:
        context.close()


# -- meses sin intereses -------------------------------------------------------------------------


def test_the_payer_chooses_6_meses_sin_intereses_and_mit_is_told(page, msi_env):
    link = make_link(msi_env, "PL-M1", "1800.00", plans=(3, 6, 12))
    page.goto(link.url)
    group = page.get_by_role("group", name="Forma de pago")
    assert [r.get_attribute("value") for r in group.get_by_role("radio").all()] == [
        "C", "3", "6", "12"]
    assert page.get_by_label("Una sola exhibición").is_checked()
    fill(page)
    # From the keyboard, as a payer without a mouse would: the arrows move within the group.
    page.get_by_label("Una sola exhibición").focus()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    assert page.get_by_label("6 meses sin intereses").is_checked()
    page.get_by_role("button", name="PAGAR $ 1,800.00").click()
    assert page.locator("#estado").inner_text() == "Aprobado"
    assert page.locator("#forma-de-pago").inner_text() == "6 meses sin intereses"
    assert msi_env.sandbox.wait_idle_sync(10)
    [body] = msi_env.receiver.bodies
    n = parse_notification(body, sd.SANDBOX_KEY)
    assert (n.response, n.promocion, n.amount) == ("approved", "6", Decimal("1800.00"))


def test_error_08_lets_the_payer_choose_another_way_to_pay(page, sandbox_with_contract):
    env = sandbox_with_contract("3:300,12:5000")  # MIT's contract: 12 months from $5,000
    link = make_link(env, "PL-M2", "1800.00", plans=(3, 12))
    page.goto(link.url)
    fill(page)
    page.get_by_label("12 meses sin intereses").check()
    page.get_by_role("button", name="PAGAR $ 1,800.00").click()
    assert page.locator("#estado").inner_text() == "Error"
    assert "menor al permitido para la promoción a meses" in page.locator("#motivo").inner_text()
    page.get_by_role("link", name="Elegir otra forma de pago").click()
    fill(page)
    page.get_by_label("3 meses sin intereses").check()
    page.get_by_role("button", name="PAGAR $ 1,800.00").click()
    assert page.locator("#estado").inner_text() == "Aprobado"
    assert env.sandbox.wait_idle_sync(10)
    got = [parse_notification(b, sd.SANDBOX_KEY) for b in env.receiver.bodies]
    assert [(n.response, n.cd_error, n.promocion) for n in got] == [
        ("error", "08", "12"), ("approved", "", "3")]


def test_at_375px_the_ways_to_pay_fit_the_viewport(browser, msi_env):
    link = make_link(msi_env, "PL-M3", "1234567.89", plans=(3, 6, 9, 12))
    context = browser.new_context(viewport={"width": 375, "height": 812}, locale="es-MX")
    try:
        page = context.new_page()
        page.goto(link.url)
        box = page.get_by_role("group", name="Forma de pago").bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 375
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
    finally:
        context.close()
