"""MIT's transaction query (SOAP `xmltransacciones`, encrypted form): the request exactly as
public integrations send it, MIT's published answer re-encrypted with the sandbox key, every
way of not getting an answer, and the sandbox serving the same endpoint from its payments."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import date, timedelta
from decimal import Decimal

import httpx
import pendulum
import pytest

from paylink_tui.gateway import sandbox_defaults as sd
from paylink_tui.gateway.base import LinkRequest
from paylink_tui.gateway.crypto import decrypt, encrypt
from paylink_tui.gateway.errors import (
    GatewayConfigInvalid,
    GatewayNotConfigured,
    QueryEmpty,
    QueryError,
    QueryFault,
    QueryGarbage,
    QueryHTTPError,
    QueryTimeout,
    QueryUnavailable,
    QueryUndecryptable,
)
from paylink_tui.gateway.mit import MitGateway
from paylink_tui.gateway.mit_query import QUERY_PATH, answer_envelope, fault_envelope
from tests.helpers import ScriptedMIT, closed_port

KEY = sd.SANDBOX_KEY
TZ = "America/Mexico_City"

# MIT's answer as published (docs/mit-webpay-plus.md, "A real answer", from a public Java
# client, name removed), verbatim: two sibling elements with no common root.
MIT_SAMPLE = (
    "<transacciones><transaccion><nu_operaion>000450723</nu_operaion><cd_usuario>D234CWUS1"
    "</cd_usuario><cd_empresa>D234</cd_empresa><nu_sucursal>002</nu_sucursal><nu_afiliacion>"
    "7465892</nu_afiliacion><nb_referencia>REF-18092014-021</nb_referencia><cc_nombre>…"
    "</cc_nombre><cc_num>4968</cc_num><cc_tp>MasterCard</cc_tp><nu_importe>10.05</nu_importe>"
    "<cd_tipopago>Contado</cd_tipopago><cd_tipocobro>Moto</cd_tipocobro><cd_instrumento>"
    "Credito</cd_instrumento><nb_response>approved</nb_response><nu_auth>551445</nu_auth>"
    "<fh_registro>18/09/2014 14:29</fh_registro><fh_bank>18/09/2014</fh_bank>"
    "<cd_usrtransaccion></cd_usrtransaccion><tp_operacion>VENTA</tp_operacion><nb_currency>MXN"
    "</nb_currency><cd_resp></cd_resp><nb_resp></nb_resp></transaccion></transacciones>"
    "<transaccionesCautM></transaccionesCautM>"
)
SAMPLE_DAY = date(2014, 9, 18)


def mit_envelope(out: str) -> str:
    """The answer envelope as the public clients show it, written by hand (not by our
    builder), so that what is parsed is MIT's shape and not our own echo."""
    return ('<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" '
            'xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soap:Body>'
            '<ns1:transaccionesResponse xmlns:ns1="http://wstrans.cpagos">'
            f"<ns1:out>{out}</ns1:out></ns1:transaccionesResponse></soap:Body></soap:Envelope>")


def gateway_for(url: str, *, key: str = KEY, timeout: float = 5.0, **kwargs) -> MitGateway:
    return MitGateway(f"{url}/gen", sd.SANDBOX_DATA0, key, sd.SANDBOX_ID_COMPANY,
                      sd.SANDBOX_ID_BRANCH, sd.SANDBOX_USER, sd.SANDBOX_PASSWORD,
                      timeout=timeout, query_url=f"{url}{QUERY_PATH}", **kwargs)


@pytest.fixture
def scripted(serve):  # type: ignore[no-untyped-def]
    mit = ScriptedMIT()
    server = serve(mit.app())
    mit.url = server.url  # type: ignore[attr-defined]
    return mit


# -- the request ------------------------------------------------------------------------------


def test_the_request_is_mits_soap_envelope_with_the_encrypted_rootless_fragment(scripted):
    scripted.answer(mit_envelope(encrypt(MIT_SAMPLE, KEY)))
    with gateway_for(scripted.url) as gw:
        gw.query("REF-18092014-021", SAMPLE_DAY)
    [(headers, body)] = scripted.requests
    assert headers["content-type"] == "text/xml; charset=utf-8"
    assert headers["soapaction"] == '""'
    envelope = ET.fromstring(body)
    soap, wst = "{http://schemas.xmlsoap.org/soap/envelope/}", "{http://wstrans.cpagos}"
    call = envelope.find(f"{soap}Body/{wst}transacciones")
    assert call is not None and envelope.find(f"{soap}Header") is not None
    assert [child.tag for child in call] == [f"{wst}in{i}" for i in range(6)]
    assert call.find(f"{wst}in0").text == sd.SANDBOX_DATA0
    assert all(not (call.find(f"{wst}in{i}").text or "") for i in range(2, 6))
    fragment = decrypt(call.find(f"{wst}in1").text, KEY)
    assert fragment == (
        f"<user>{sd.SANDBOX_USER}</user><pwd>{sd.SANDBOX_PASSWORD}</pwd>"
        f"<id_company>{sd.SANDBOX_ID_COMPANY}</id_company><date>18/09/2014</date>"
        f"<id_branch>{sd.SANDBOX_ID_BRANCH}</id_branch><reference>REF-18092014-021</reference>")
    # The password travels only inside the ciphertext.
    assert sd.SANDBOX_PASSWORD.encode() not in body


def test_a_reference_with_markup_is_escaped_in_the_fragment(scripted):
    scripted.answer(mit_envelope(encrypt("<transacciones/><transaccionesCautM/>", KEY)))
    with gateway_for(scripted.url) as gw:
        assert gw.query("A&B<C>", SAMPLE_DAY) == []
    call = ET.fromstring(scripted.requests[0][1]).find(
        "{http://schemas.xmlsoap.org/soap/envelope/}Body/{http://wstrans.cpagos}transacciones")
    assert decrypt(call.find("{http://wstrans.cpagos}in1").text, KEY).endswith(
        "<reference>A&amp;B&lt;C&gt;</reference>")


# -- MIT's published answer ---------------------------------------------------------------------


def test_mits_published_answer_reencrypted_is_read_into_typed_transactions(scripted):
    scripted.answer(mit_envelope(encrypt(MIT_SAMPLE, KEY)))
    with gateway_for(scripted.url) as gw:
        [t] = gw.query("REF-18092014-021", SAMPLE_DAY)
    assert t.operation == "450723"  # 000450723 without its leading zeros: the folio
    assert t.reference == "REF-18092014-021"
    assert t.amount == Decimal("10.05") and isinstance(t.amount, Decimal)
    assert t.approved and t.response == "approved"
    assert (t.auth, t.registered, t.bank_date) == ("551445", "18/09/2014 14:29", "18/09/2014")
    assert (t.payment_type, t.charge_type, t.instrument) == ("Contado", "Moto", "Credito")
    assert (t.card_last4, t.card_brand, t.operation_type, t.currency) == (
        "4968", "MasterCard", "VENTA", "MXN")
    assert (t.user, t.company, t.branch, t.automatic) == ("D234CWUS1", "D234", "002", False)
    assert "<nu_operaion>000450723</nu_operaion>" in t.raw_xml


def test_an_answer_with_a_declaration_an_integer_amount_a_denial_and_a_token(scripted):
    denied = MIT_SAMPLE.replace("000450723", "000450724").replace("10.05", "35000").replace(
        "approved", "denied").replace("551445", "").replace("<cd_resp></cd_resp><nb_resp>"
        "</nb_resp>", "<cd_resp>41</cd_resp><nb_resp>Tarjeta extraviada</nb_resp>"
        "<token>TKN-SECRETO-1234</token>")
    automatic = denied.split("<transaccionesCautM>")[0].replace(
        "<transacciones>", "<transaccionesCautM>").replace("</transacciones>",
                                                            "</transaccionesCautM>")
    plaintext = '<?xml version="1.0" encoding="UTF-8"?>' + denied.split(
        "<transaccionesCautM>")[0] + automatic
    scripted.answer(mit_envelope(encrypt(plaintext, KEY)))
    with gateway_for(scripted.url) as gw:
        sale, auto = gw.query("", SAMPLE_DAY)
    assert (sale.operation, sale.amount, sale.response, sale.approved) == (
        "450724", Decimal("35000"), "denied", False)
    assert (sale.bank_code, sale.bank_message, sale.auth) == ("41", "Tarjeta extraviada", "")
    assert "TKN-SECRETO" not in sale.raw_xml and "token" not in sale.raw_xml
    assert auto.automatic and not sale.automatic


def test_an_answer_listing_nothing_is_an_empty_list_not_a_failure(scripted):
    scripted.answer(mit_envelope(encrypt(
        "<transacciones></transacciones><transaccionesCautM></transaccionesCautM>", KEY)))
    with gateway_for(scripted.url) as gw:
        assert gw.query("REF-NADA", SAMPLE_DAY) == []


# -- every way of not getting an answer -----------------------------------------------------------


FAULT = fault_envelope("soap:Server", "java.lang.NullPointerException at cpagos.Trans")


@pytest.mark.parametrize("status,body,error", [
    (500, FAULT, QueryFault),
    (200, FAULT, QueryFault),
    (500, "Internal Server Error", QueryHTTPError),
    (503, "", QueryHTTPError),
    (200, "hola, esto no es SOAP", QueryGarbage),
    (200, "<html><body>Mantenimiento</body></html>", QueryGarbage),
    (200, mit_envelope(encrypt("hola mundo", KEY)), QueryGarbage),
    (200, '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">'
          "<soap:Body/></soap:Envelope>", QueryGarbage),
    (200, "", QueryEmpty),
    (200, "   \r\n", QueryEmpty),
    (200, mit_envelope(""), QueryEmpty),
    (200, mit_envelope(encrypt(MIT_SAMPLE, "00112233445566778899AABBCCDDEEFF")),
     QueryUndecryptable),
    (200, mit_envelope("bm8gZXMgdW4gY2lmcmFkbw=="), QueryUndecryptable),
], ids=["fault-500", "fault-200", "http-500", "http-503", "text", "html", "not-transactions",
        "no-out", "empty", "blank", "empty-out", "other-key", "not-ciphertext"])
def test_each_failure_is_its_own_typed_error_in_spanish_without_secrets(scripted, status, body,
                                                                         error):
    scripted.answer(body, status)
    with gateway_for(scripted.url) as gw, pytest.raises(error) as caught:
        gw.query("REF-18092014-021", SAMPLE_DAY)
    exc = caught.value
    assert isinstance(exc, QueryError) and exc.retryable
    for secret in (KEY, sd.SANDBOX_PASSWORD, "NullPointerException"):
        assert secret not in exc.message
    assert "consultar" in exc.message or "consulta" in exc.message


def test_mit_down_is_unavailable():
    url = f"http://127.0.0.1:{closed_port()}"
    with gateway_for(url) as gw, pytest.raises(QueryUnavailable):
        gw.query("REF-1", SAMPLE_DAY)


def test_mit_silent_past_the_timeout_is_a_timeout(scripted):
    scripted.answer(mit_envelope(encrypt(MIT_SAMPLE, KEY)), delay=2.0)
    with gateway_for(scripted.url, timeout=0.3) as gw, pytest.raises(QueryTimeout) as caught:
        gw.query("REF-1", SAMPLE_DAY)
    assert "0.3 s" in caught.value.message


def test_an_oversized_answer_is_refused_without_reading_it_all(scripted, monkeypatch):
    from paylink_tui.gateway import mit_query

    monkeypatch.setattr(mit_query, "MAX_ANSWER_BYTES", 10_000)
    scripted.answer(mit_envelope(encrypt(MIT_SAMPLE * 40, KEY)))
    with gateway_for(scripted.url) as gw, pytest.raises(QueryGarbage):
        gw.query("REF-1", SAMPLE_DAY)


# -- configuration ------------------------------------------------------------------------------


def test_without_a_query_url_the_gateway_says_which_setting_is_missing():
    gw = MitGateway("https://u.mitec.com.mx/gen", sd.SANDBOX_DATA0, KEY, sd.SANDBOX_ID_COMPANY,
                    sd.SANDBOX_ID_BRANCH, sd.SANDBOX_USER, sd.SANDBOX_PASSWORD)
    assert gw.can_query is False
    with pytest.raises(GatewayNotConfigured) as caught:
        gw.query("REF-1", SAMPLE_DAY)
    assert "PAYLINK_MIT_QUERY_URL" in caught.value.message
    gw.close()


@pytest.mark.parametrize("url,ok", [
    ("https://ssl.e-pago.com.mx/pgs/services/xmltransacciones", True),
    ("http://127.0.0.1:8765/pgs/services/xmltransacciones", True),
    ("http://localhost:8765/pgs/services/xmltransacciones", True),
    ("http://[::1]:8765/pgs/services/xmltransacciones", True),
    ("http://vip.e-pago.com.mx/pgs/services/xmltransacciones", False),
    ("ftp://ssl.e-pago.com.mx/x", False),
    ("ssl.e-pago.com.mx", False),
])
def test_the_query_url_must_be_https_except_on_this_machine(url, ok):
    build = lambda: MitGateway(  # noqa: E731
        "https://u.mitec.com.mx/gen", sd.SANDBOX_DATA0, KEY, sd.SANDBOX_ID_COMPANY,
        sd.SANDBOX_ID_BRANCH, sd.SANDBOX_USER, sd.SANDBOX_PASSWORD, query_url=url)
    if ok:
        build().close()
        return
    with pytest.raises(GatewayConfigInvalid) as caught:
        build()
    assert "PAYLINK_MIT_QUERY_URL" in caught.value.message


def test_a_query_key_that_is_not_32_hex_digits_names_its_setting():
    with pytest.raises(GatewayConfigInvalid) as caught:
        MitGateway("https://u.mitec.com.mx/gen", sd.SANDBOX_DATA0, KEY, sd.SANDBOX_ID_COMPANY,
                   sd.SANDBOX_ID_BRANCH, sd.SANDBOX_USER, sd.SANDBOX_PASSWORD,
                   query_url="https://ssl.e-pago.com.mx/x", query_key="corta")
    assert "PAYLINK_MIT_QUERY_KEY" in caught.value.message and "corta" not in caught.value.message


def test_settings_give_the_query_its_url_and_by_default_the_mit_key(monkeypatch):
    from paylink_tui.config import load_settings
    from paylink_tui.gateway.factory import gateway_from_settings

    monkeypatch.setenv("PAYLINK_GATEWAY", "sandbox")
    assert gateway_from_settings(load_settings()).can_query is False
    monkeypatch.setenv("PAYLINK_MIT_QUERY_URL", "https://ssl.e-pago.com.mx" + QUERY_PATH)
    gw = gateway_from_settings(load_settings())
    assert gw.can_query and gw._query._key == KEY  # the sandbox's key, as PAYLINK_MIT_KEY
    monkeypatch.setenv("PAYLINK_MIT_QUERY_KEY", "00112233445566778899AABBCCDDEEFF")
    assert gateway_from_settings(load_settings())._query._key.startswith("0011")
    assert "0011" not in repr(gateway_from_settings(load_settings())._query)


# -- the sandbox serves the same endpoint ----------------------------------------------------------


def local_today(clock) -> date:  # type: ignore[no-untyped-def]
    return pendulum.instance(clock()).in_timezone(TZ).date()


def pay(url: str, card: str = "4111 1111 1111 1111") -> httpx.Response:
    return httpx.post(f"{url}/pagar", data={
        "nombre": "Ana", "apellido_paterno": "Peña", "apellido_materno": "Ruiz", "tarjeta": card,
        "expira": "12/39", "cvv": "123", "correo": "ana@example.com", "terminos": "on"})


def test_the_sandbox_lists_what_it_took_exactly_as_mit_answers(sandbox_env):
    env = sandbox_env
    today = local_today(env.clock)
    with gateway_for(env.url) as gw:
        link = gw.create_link(LinkRequest("PL-Q1", Decimal("1500.00"), "MXN",
                                          today + timedelta(days=3), "ana@example.com"))
        other = gw.create_link(LinkRequest("PL-Q2", Decimal("10.50"), "MXN",
                                           today + timedelta(days=3), "ana@example.com"))
        assert pay(link.url, "4000 0000 0000 0002").status_code == 200  # denied
        assert pay(link.url).status_code == 200  # then approved
        assert pay(other.url).status_code == 200
        assert env.sandbox.wait_idle_sync(10)
        denied, approved = gw.query("PL-Q1", today)
        everything = gw.query("", today)
        assert gw.query("PL-Q1", today - timedelta(days=1)) == []
        assert gw.query("PL-NADA", today) == []
    payments = env.sandbox.state.by_reference["PL-Q1"].payments
    assert (approved.operation, approved.auth) == (payments[1].folio, payments[1].auth)
    assert approved.approved and approved.amount == Decimal("1500")
    assert (denied.response, denied.operation) == ("denied", payments[0].folio)
    assert denied.bank_code == payments[0].cd_error and denied.auth == ""
    assert sorted(t.reference for t in everything) == ["PL-Q1", "PL-Q1", "PL-Q2"]
    assert next(t for t in everything if t.reference == "PL-Q2").amount == Decimal("10.5")
    # On the wire: zero-padded to nine digits, and the amount with no fixed scale.
    assert re.search(r"<nu_operaion>0\d{8}</nu_operaion>", approved.raw_xml)
    assert "<nu_importe>1500</nu_importe>" in approved.raw_xml
    assert re.fullmatch(r"\d{2}/\d{2}/\d{4} \d{2}:\d{2}", approved.registered)


def test_the_sandbox_answers_the_raw_envelope_with_two_sibling_elements(sandbox_env):
    from paylink_tui.gateway.messages import Business
    from paylink_tui.gateway.mit_query import query_envelope, query_fragment

    fragment = query_fragment(Business(sd.SANDBOX_ID_COMPANY, sd.SANDBOX_ID_BRANCH,
                                       sd.SANDBOX_USER, sd.SANDBOX_PASSWORD),
                              local_today(sandbox_env.clock), "")
    resp = httpx.post(f"{sandbox_env.url}{QUERY_PATH}",
                      content=query_envelope(sd.SANDBOX_DATA0, encrypt(fragment, KEY)),
                      headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'})
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/xml")
    out = re.search(r"<ns1:out>(.*)</ns1:out>", resp.text).group(1)
    assert decrypt(out, KEY) == "<transacciones></transacciones><transaccionesCautM></transaccionesCautM>"
    assert 'xmlns:ns1="http://wstrans.cpagos"' in resp.text


@pytest.mark.parametrize("change", ["data0", "key", "password"])
def test_the_sandbox_refuses_a_query_it_cannot_read_with_a_soap_fault(sandbox_env, change):
    kwargs = {"data0": {"data0": "OTRO123"}, "key": {"key": "00112233445566778899AABBCCDDEEFF"},
              "password": {"password": "OTRA"}}[change]
    gw = MitGateway(f"{sandbox_env.url}/gen", kwargs.get("data0", sd.SANDBOX_DATA0),
                    kwargs.get("key", KEY), sd.SANDBOX_ID_COMPANY, sd.SANDBOX_ID_BRANCH,
                    sd.SANDBOX_USER, kwargs.get("password", sd.SANDBOX_PASSWORD),
                    query_url=f"{sandbox_env.url}{QUERY_PATH}")
    with gw, pytest.raises(QueryFault):
        gw.query("PL-1", local_today(sandbox_env.clock))


def test_answer_envelope_round_trips_through_the_reader():
    from paylink_tui.gateway.mit_query import read_answer

    [t] = read_answer(200, answer_envelope(encrypt(MIT_SAMPLE, KEY)).encode(), KEY)
    assert t.operation == "450723"


def test_the_sandbox_lists_a_payment_in_meses_sin_intereses_as_msi(msi_env):
    today = local_today(msi_env.clock)
    with gateway_for(msi_env.url) as gw:
        for ref, plan in (("PL-MSI-6", "6"), ("PL-MSI-C", "C")):
            link = gw.create_link(LinkRequest(ref, Decimal("1000.00"), "MXN",
                                              today + timedelta(days=3), "ana@example.com",
                                              plans=(3, 6)))
            assert httpx.post(f"{link.url}/pagar", data={
                "nombre": "Ana", "apellido_paterno": "Peña", "apellido_materno": "Ruiz",
                "tarjeta": "4111 1111 1111 1111", "expira": "12/39", "cvv": "123",
                "correo": "ana@example.com", "terminos": "on",
                "promocion": plan}).status_code == 200
        [msi] = gw.query("PL-MSI-6", today)
        [single] = gw.query("PL-MSI-C", today)
    assert (msi.payment_type, single.payment_type) == ("MSI", "Contado")
