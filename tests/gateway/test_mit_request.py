"""The request MIT receives: exact element order, escaping, and limits checked before sending."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paylink_tui.config import Settings
from paylink_tui.gateway import sandbox_defaults as sd
from paylink_tui.gateway.base import LinkRequest
from paylink_tui.gateway.errors import (
    GatewayConfigInvalid,
    GatewayNotConfigured,
    InvalidLinkRequest,
)
from paylink_tui.gateway.factory import gateway_from_settings
from paylink_tui.gateway.mit import MitGateway


def make_gateway(**kwargs) -> MitGateway:
    return MitGateway(
        "http://127.0.0.1:9/gen", sd.SANDBOX_DATA0, sd.SANDBOX_KEY, sd.SANDBOX_ID_COMPANY,
        sd.SANDBOX_ID_BRANCH, sd.SANDBOX_USER, sd.SANDBOX_PASSWORD, **kwargs,
    )


def request(**overrides) -> LinkRequest:
    base = dict(
        reference="PL-000123",
        amount=Decimal("75.17"),
        currency="MXN",
        valid_through=date(2021, 10, 10),
        email="ana@example.com",
        extra=(("Póliza", "Peña & Hijos <SA>"), ("Recibo", "R-1")),
    )
    base.update(overrides)
    return LinkRequest(**base)


def tags(el: ET.Element) -> list[str]:
    return [child.tag for child in el]


def test_request_has_mits_element_order_with_extra_data_inside_url():
    xml = make_gateway().request_xml(request())
    assert xml.startswith('<?xml version="1.0" encoding="UTF-8"?><P><business>')
    root = ET.fromstring(xml)
    assert tags(root) == ["business", "url", "version"]
    assert tags(root.find("business")) == ["id_company", "id_branch", "user", "pwd"]
    assert tags(root.find("url")) == [
        "reference", "amount", "moneda", "canal", "omitir_notif_default", "promociones",
        "st_correo", "fh_vigencia", "mail_cliente", "datos_adicionales",
    ]
    url = root.find("url")
    assert [url.findtext(t) for t in ("reference", "amount", "moneda", "canal",
                                      "omitir_notif_default", "promociones", "st_correo",
                                      "fh_vigencia", "mail_cliente")] == [
        "PL-000123", "75.17", "MXN", "W", "1", "C", "1", "10/10/2021", "ana@example.com"]
    assert root.findtext("version") == "IntegraWPP"
    data = url.find("datos_adicionales").findall("data")
    assert [(d.get("id"), d.get("display")) for d in data] == [("1", "true"), ("2", "true")]


def test_names_with_ampersand_and_angle_brackets_are_escaped_not_concatenated():
    xml = make_gateway().request_xml(request())
    assert "<value>Peña &amp; Hijos &lt;SA&gt;</value>" in xml
    data = ET.fromstring(xml).find("url/datos_adicionales/data")
    assert data.findtext("label") == "Póliza"
    assert data.findtext("value") == "Peña & Hijos <SA>"


def test_extra_data_can_sit_at_the_root_before_version():
    root = ET.fromstring(make_gateway(extra_data_in="root").request_xml(request()))
    assert tags(root) == ["business", "url", "datos_adicionales", "version"]
    assert "datos_adicionales" not in tags(root.find("url"))


def test_notify_payer_asks_mit_to_send_its_own_receipt():
    root = ET.fromstring(make_gateway(notify_payer=True).request_xml(request()))
    assert root.findtext("url/omitir_notif_default") == "0"


def test_optional_email_and_extra_data_are_left_out_when_absent():
    root = ET.fromstring(make_gateway().request_xml(request(email=None, extra=())))
    assert tags(root.find("url"))[-1] == "fh_vigencia"


def test_amount_always_has_two_decimals():
    root = ET.fromstring(make_gateway().request_xml(request(amount=Decimal("1234.5"))))
    assert root.findtext("url/amount") == "1234.50"


@pytest.mark.parametrize(
    ("overrides", "field", "why"),
    [
        ({"reference": ""}, "referencia", "vacío"),
        ({"reference": "R" * 41}, "referencia", "máximo 40 caracteres (tiene 41)"),
        ({"reference": "R\n1"}, "referencia", "salto de línea"),
        ({"amount": Decimal("0")}, "monto", "mayor que cero"),
        ({"amount": Decimal("-5.00")}, "monto", "mayor que cero"),
        ({"amount": Decimal("1.005")}, "monto", "dos decimales"),
        ({"currency": "EUR"}, "moneda", "MXN o USD"),
        ({"email": "a" * 40 + "@example.com"}, "correo del cliente", "máximo 50"),
        ({"email": "sin-arroba"}, "correo del cliente", "dirección de correo"),
        ({"extra": (("L", "v"),) * 7}, "datos adicionales", "máximo 6"),
        ({"extra": (("L" * 31, "v"),)}, "dato adicional 1, etiqueta", "máximo 30"),
        ({"extra": (("L", "v"), ("L2", "v" * 51))}, "dato adicional 2, valor", "máximo 50"),
    ],
)
def test_field_limits_are_refused_before_sending_naming_the_field(overrides, field, why):
    gw = make_gateway()  # points at a closed port: reaching the network would fail differently
    with pytest.raises(InvalidLinkRequest) as info:
        gw.create_link(request(**overrides))
    assert info.value.field == field
    assert field in info.value.message and why in info.value.message
    assert info.value.retryable is False and info.value.outcome_unknown is False


def test_limits_at_the_edge_are_accepted():
    xml = make_gateway().request_xml(request(
        reference="R" * 40, email="a" * 38 + "@example.com",
        extra=tuple((f"{'L' * 29}{i}", "v" * 50) for i in range(6)),
    ))
    assert len(ET.fromstring(xml).findall("url/datos_adicionales/data")) == 6


@pytest.mark.parametrize(
    ("kwargs", "setting"),
    [
        ({"id_company": "SNBXX"}, "PAYLINK_MIT_ID_COMPANY"),
        ({"id_branch": "B" * 12}, "PAYLINK_MIT_ID_BRANCH"),
        ({"user": "SHORT"}, "PAYLINK_MIT_USER"),
        ({"password": ""}, "PAYLINK_MIT_PASSWORD"),
        ({"key": "not-hex"}, "PAYLINK_MIT_KEY"),
    ],
)
def test_unusable_credentials_are_refused_naming_the_setting_not_the_value(kwargs, setting):
    args = dict(gen_url="http://127.0.0.1:9/gen", data0="SNDBX123", key=sd.SANDBOX_KEY,
                id_company="SNBX", id_branch="01SNBXBRNCH", user="SNBXUSR0123",
                password="SECRETO")
    args.update(kwargs)
    with pytest.raises(GatewayConfigInvalid) as info:
        MitGateway(**args)
    assert setting in info.value.message
    assert "SECRETO" not in info.value.message and sd.SANDBOX_KEY not in info.value.message


def test_gateway_repr_hides_key_and_password():
    text = repr(make_gateway())
    assert sd.SANDBOX_KEY not in text and "SECRETO" not in text


def test_from_settings_names_every_missing_setting():
    with pytest.raises(GatewayNotConfigured) as info:
        MitGateway.from_settings(Settings(gateway="mit", mit_data0="X"))
    msg = info.value.message
    for name in ("PAYLINK_MIT_GEN_URL", "PAYLINK_MIT_KEY", "PAYLINK_MIT_PASSWORD"):
        assert name in msg
    assert "PAYLINK_MIT_DATA0" not in msg


def test_factory_without_a_gateway_setting_says_so():
    with pytest.raises(GatewayNotConfigured) as info:
        gateway_from_settings(Settings(gateway=None))
    assert "PAYLINK_GATEWAY" in info.value.message


def test_factory_builds_mit_from_settings_with_secrets_unwrapped():
    gw = gateway_from_settings(Settings(
        gateway="mit", mit_gen_url="https://u.mitec.com.mx/gen", mit_data0="ABC",
        mit_key="00112233445566778899AABBCCDDEEFF", mit_id_company="ABCD",
        mit_id_branch="123", mit_user="USUARIO01", mit_password="clave",
        mit_extra_data_in="root", mit_notify_payer=1, mit_timeout=7.5,
    ))
    assert isinstance(gw, MitGateway)
    assert (gw.gen_url, gw.extra_data_in, gw.notify_payer, gw.timeout) == (
        "https://u.mitec.com.mx/gen", "root", True, 7.5)
    assert "<pwd>clave</pwd>" in gw.request_xml(request())
    gw.close()


def test_factory_sandbox_uses_public_credentials_and_the_given_url():
    gw = gateway_from_settings(Settings(gateway="sandbox"), sandbox_url="http://127.0.0.1:1234/gen")
    assert gw.gen_url == "http://127.0.0.1:1234/gen"
    xml = gw.request_xml(request())
    assert "<id_company>SNBX</id_company>" in xml and "<user>SNBXUSR0123</user>" in xml
    gw.close()
    default = gateway_from_settings(Settings(gateway="sandbox"))
    assert default.gen_url == sd.SANDBOX_GEN_URL
    default.close()


def test_the_form_envelope_is_well_formed_xml_even_for_odd_data0():
    from paylink_tui.gateway.messages import build_envelope

    envelope = build_envelope("A&B<1>", "QUJD+/==")
    assert envelope == "<pgs><data0>A&amp;B&lt;1&gt;</data0><data>QUJD+/==</data></pgs>"
    assert ET.fromstring(envelope).findtext("data0") == "A&B<1>"


_XML_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Cn")), min_size=1, max_size=30
)


@settings(max_examples=60, deadline=None)
@given(reference=_XML_TEXT.map(str.strip).filter(bool), label=_XML_TEXT, value=_XML_TEXT)
def test_any_printable_text_survives_the_request_xml_unchanged(reference, label, value):
    xml = make_gateway().request_xml(request(reference=reference, extra=((label, value),)))
    root = ET.fromstring(xml)
    assert root.findtext("url/reference") == reference
    assert root.findtext("url/datos_adicionales/data/label") == label
    assert root.findtext("url/datos_adicionales/data/value") == value


def test_characters_xml_cannot_carry_are_refused_before_sending():
    with pytest.raises(InvalidLinkRequest) as info:
        make_gateway().request_xml(request(extra=(("Nota", "a\ufffeb"),)))
    assert "U+FFFE" in info.value.message


def test_from_settings_asks_for_mit_settings_even_when_the_gateway_is_sandbox():
    with pytest.raises(GatewayNotConfigured) as info:
        MitGateway.from_settings(Settings(gateway="sandbox"))
    assert "PAYLINK_MIT_KEY" in info.value.message and info.value.retryable is False
