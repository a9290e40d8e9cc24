"""Building messages: addresses validated, header injection refused, UTF-8 survives."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
from email.utils import parsedate_to_datetime

import pytest

from paylink_tui.mail.errors import HeaderInjection, InvalidAddress
from paylink_tui.mail.message import build_message, new_message_id, validate_address

WHEN = dt.datetime(2021, 10, 7, 21, 4, 56, tzinfo=dt.timezone.utc)


def build(**overrides):
    values = dict(
        to="jose.pena@cliente.example.mx",
        from_addr="pagopoliza@mitec.com.mx",
        from_name="Peña & Asociados, Seguros",
        reply_to="agente@agentes.example.mx",
        subject="Liga de pago de su póliza 123456 — año ñandú",
        text="Hola José\n",
        html="<p>Hola José</p>",
        message_id=new_message_id("pagopoliza@mitec.com.mx"),
        date=WHEN,
    )
    values.update(overrides)
    return build_message(**values)


@pytest.mark.parametrize(
    "field, value",
    [
        ("subject", "Hola\r\nBcc: victim@example.com"),
        ("subject", "Hola\nX-Evil: 1"),
        ("subject", "con tabulador\t"),
        ("from_name", "AXA\r\nBcc: victim@example.com"),
        ("to", "a@example.com\r\nBcc: victim@example.com"),
        ("reply_to", "a@example.com\nBcc: victim@example.com"),
        ("from_addr", "a@example.com\x00"),
    ],
)
def test_control_characters_in_any_header_are_refused(field, value):
    with pytest.raises(HeaderInjection) as err:
        build(**{field: value})
    assert "no se permiten caracteres de control" in err.value.message


@pytest.mark.parametrize(
    "address, needle",
    [("", "vacía"), ("jose.example.com", "le falta la arroba (@)"), ("jose@", "no es válida"),
     ("jose pena@example.com", "no es válida"), ("jose@example..com", "no es válida")],
)
def test_invalid_addresses_are_refused_with_a_spanish_message(address, needle):
    with pytest.raises(InvalidAddress) as err:
        validate_address(address)
    assert needle in err.value.message
    assert "destinatario" in err.value.message


def test_valid_addresses_are_normalised():
    assert validate_address("  Jose.Pena@CLIENTE.Example.MX ") == "Jose.Pena@cliente.example.mx"
    assert validate_address("jose@ñandú.mx") == "jose@ñandú.mx"


def test_accents_before_the_at_sign_are_refused_clearly():
    with pytest.raises(InvalidAddress) as err:
        validate_address("josé@ejemplo.mx")
    assert "acentos, «ñ» u otras letras especiales antes de la «@»" in err.value.message
    assert "«jose@ejemplo.mx»" in err.value.message  # what it most likely is


def test_an_internationalised_domain_travels_in_punycode():
    msg = build(to="jose@ñandú.mx")
    assert msg["To"].addresses[0].addr_spec == "jose@xn--and-6ma2c.mx"


def test_accents_and_enye_survive_a_round_trip_through_the_wire_format():
    msg = build()
    wire = msg.as_bytes()
    assert all(b < 128 for b in wire)  # 7-bit on the wire: any server carries it
    back = email.message_from_bytes(wire, policy=email.policy.default)
    assert back["Subject"] == "Liga de pago de su póliza 123456 — año ñandú"
    assert back["From"].addresses[0].display_name == "Peña & Asociados, Seguros"
    assert back["From"].addresses[0].addr_spec == "pagopoliza@mitec.com.mx"
    assert back["Reply-To"].addresses[0].addr_spec == "agente@agentes.example.mx"
    assert back["Message-ID"] == msg["Message-ID"]
    assert back["Message-ID"].endswith("@mitec.com.mx>")
    assert parsedate_to_datetime(back["Date"]) == WHEN
    assert back.get_body(("plain",)).get_content().replace("\r\n", "\n") == "Hola José\n"
    assert back.get_body(("html",)).get_content().strip() == "<p>Hola José</p>"


def test_message_ids_are_unique_and_on_the_sender_domain():
    ids = {new_message_id("notificaciones@mitec.com.mx") for _ in range(200)}
    assert len(ids) == 200
    assert all(i.startswith("<") and i.endswith("@mitec.com.mx>") for i in ids)
    assert new_message_id("avisos@ñandú.mx").endswith("@xn--and-6ma2c.mx>")
