"""Meses sin intereses on the wire: the request's promociones, and the sandbox playing MIT with
a contract (which plans it enables, from which amount), over real HTTP on loopback."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import date, timedelta
from decimal import Decimal

import httpx
import pendulum
import pytest

from paylink_tui.gateway import sandbox_defaults as sd
from paylink_tui.gateway.base import LinkRequest
from paylink_tui.gateway.crypto import decrypt, encrypt
from paylink_tui.gateway.errors import GatewayRefused, InvalidLinkRequest
from paylink_tui.gateway.messages import (
    Business,
    build_envelope,
    build_request_xml,
    parse_notification,
)
from paylink_tui.gateway.mit import MitGateway

TZ = "America/Mexico_City"
PAYER = {
    "nombre": "Ana", "apellido_paterno": "Peña", "apellido_materno": "Ruiz",
    "tarjeta": "4111 1111 1111 1111", "expira": "12/39", "cvv": "123",
    "correo": "ana@example.com", "terminos": "on",
}


def offline_gateway() -> MitGateway:
    return MitGateway("http://127.0.0.1:9/gen", sd.SANDBOX_DATA0, sd.SANDBOX_KEY,
                      sd.SANDBOX_ID_COMPANY, sd.SANDBOX_ID_BRANCH, sd.SANDBOX_USER,
                      sd.SANDBOX_PASSWORD)


def request(**overrides) -> LinkRequest:
    values = dict(reference="PL-MSI-1", amount=Decimal("1000.00"), currency="MXN",
                  valid_through=date(2031, 10, 10), email="ana@example.com")
    values.update(overrides)
    return LinkRequest(**values)


def today(env) -> date:
    return pendulum.instance(env.clock()).in_timezone(TZ).date()


def make_link(env, reference="PL-MSI", amount="1000.00", plans=(3, 6)):
    with env.gateway() as gw:
        return gw.create_link(LinkRequest(reference, Decimal(amount), "MXN",
                                          today(env) + timedelta(days=3), "ana@example.com",
                                          plans=tuple(plans)))


def pay(link, **changes):
    form = {**PAYER, **changes}
    return httpx.post(f"{link.url}/pagar", data={k: v for k, v in form.items() if v is not None})


def notifications(env):
    assert env.sandbox.wait_idle_sync(10)
    return [parse_notification(b, sd.SANDBOX_KEY) for b in env.receiver.bodies]


def post_raw_promociones(env, promociones: str) -> httpx.Response:
    """A generation request as our client builds it, but with any promociones text."""
    business = Business(sd.SANDBOX_ID_COMPANY, sd.SANDBOX_ID_BRANCH, sd.SANDBOX_USER,
                        sd.SANDBOX_PASSWORD)
    xml = build_request_xml(business, reference="PL-RAW", amount="1000.00", moneda="MXN",
                            omitir_notif_default="1",
                            fh_vigencia=(today(env) + timedelta(days=3)).strftime("%d/%m/%Y"),
                            mail_cliente=None, promociones=promociones)
    envelope = build_envelope(sd.SANDBOX_DATA0, encrypt(xml, sd.SANDBOX_KEY))
    return httpx.post(f"{env.url}/gen", data={"xml": envelope})


def refusal(resp: httpx.Response) -> str:
    root = ET.fromstring(decrypt(resp.text, sd.SANDBOX_KEY).split("?>", 1)[1])
    assert root.findtext("cd_response") == "error"
    return root.findtext("nb_response") or ""


# -- the request -------------------------------------------------------------------------------


@pytest.mark.parametrize(("plans", "sent"), [((), "C"), ((3, 6), "C,3,6"), ((12, 3), "C,3,12")])
def test_the_request_sends_promociones_with_the_single_payment_first(plans, sent):
    root = ET.fromstring(offline_gateway().request_xml(request(plans=plans)))
    assert root.findtext("url/promociones") == sent


@pytest.mark.parametrize(("overrides", "reason"), [
    ({"currency": "USD", "plans": (3,)}, "solo se ofrecen en MXN"),
    ({"plans": (0,)}, "de 1 a 99 meses"),
    ({"plans": (100,)}, "de 1 a 99 meses"),
    ({"plans": tuple(range(2, 40))}, "como máximo 40 caracteres"),
])
def test_promociones_mit_would_refuse_is_never_sent(overrides, reason):
    with pytest.raises(InvalidLinkRequest) as exc:
        offline_gateway().request_xml(request(**overrides))
    assert "promociones" in exc.value.message and reason in exc.value.message


# -- /gen with a contract --------------------------------------------------------------------


def test_the_sandbox_keeps_the_plans_a_link_offers(msi_env):
    link = make_link(msi_env, plans=(3, 6))
    assert msi_env.sandbox.state.links[link.link_id].plans == (3, 6)


@pytest.mark.parametrize("promociones", ["C,", "C,0", "C,3,,6", "C,100", "3,C", "C;3",
                                         "C," + ",".join(["12"] * 15)])
def test_promociones_outside_mits_pattern_is_refused_at_generation(msi_env, promociones):
    assert refusal(post_raw_promociones(msi_env, promociones)) == (
        "El elemento promociones es incorrecto.")
    assert msi_env.sandbox.state.links == {}


def test_a_plan_the_contract_does_not_enable_is_refused_at_generation(msi_env):
    with pytest.raises(GatewayRefused) as exc:
        make_link(msi_env, plans=(3, 18))
    assert "18 meses no está habilitada" in exc.value.message
    assert msi_env.sandbox.state.links == {}


def test_without_a_contract_the_sandbox_takes_only_the_single_payment(sandbox_env):
    with pytest.raises(GatewayRefused):
        make_link(sandbox_env, plans=(3,))
    link = make_link(sandbox_env, plans=())
    assert 'name="promocion"' not in httpx.get(link.url).text  # nothing to choose


# -- the payment page ----------------------------------------------------------------------


def test_the_page_offers_the_single_payment_and_the_links_plans(msi_env):
    page = httpx.get(make_link(msi_env, plans=(3, 6)).url).text
    assert "Forma de pago" in page
    assert 'id="promocion-C" name="promocion" value="C" checked' in page
    assert "Una sola exhibición" in page
    assert "3 meses sin intereses" in page and "6 meses sin intereses" in page
    assert "9 meses sin intereses" not in page  # enabled, but not offered by this link


@pytest.mark.parametrize(("promocion", "sent"), [("6", "6"), ("C", "C"), (None, "C")])
def test_the_notification_carries_the_plan_the_payer_chose(msi_env, promocion, sent):
    link = make_link(msi_env, plans=(3, 6))
    resp = pay(link, promocion=promocion)
    assert resp.status_code == 200 and "Aprobado" in resp.text
    [n] = notifications(msi_env)
    assert (n.response, n.promocion, n.amount) == ("approved", sent, Decimal("1000.00"))
    assert f"<promocion>{sent}</promocion>" in n.raw_xml
    assert ("6 meses sin intereses" in resp.text) == (sent == "6")


def test_a_plan_the_link_does_not_offer_is_a_form_error(msi_env):
    link = make_link(msi_env, plans=(3,))
    resp = pay(link, promocion="12")
    assert resp.status_code == 422 and 'id="error-promocion"' in resp.text
    assert "Elija una de las formas de pago" in resp.text
    assert notifications(msi_env) == []


def test_a_plan_below_the_contracts_minimum_is_error_08_and_the_link_stays_payable(
        sandbox_with_contract):
    """Our client never offers a plan below PAYLINK_MIT_PROMOTIONS' minimum; when that table
    is lower than the contract MIT really has, MIT answers 08 at payment time."""
    env = sandbox_with_contract("3:300,12:5000")
    link = make_link(env, amount="1500.00", plans=(3, 12))
    refused = pay(link, promocion="12")
    assert refused.status_code == 200 and "Error" in refused.text
    assert "El importe es menor al permitido para la promoción a meses seleccionada" in refused.text
    assert "Elegir otra forma de pago" in refused.text
    assert "PAGAR $ 1,500.00" in httpx.get(link.url).text  # still payable
    assert "Aprobado" in pay(link, promocion="3").text
    first, second = notifications(env)
    assert (first.response, first.cd_error, first.promocion, first.auth) == ("error", "08", "12", "")
    assert first.nb_error.startswith("El importe es menor al permitido")
    assert (second.response, second.promocion) == ("approved", "3")
