"""WhatsApp: a valid Mexican phone becomes a wa.me address with the Spanish message (the
client's name, the amount, the link, its validity); anything else gets none, and the import
reports it without rejecting the row."""

from __future__ import annotations

import subprocess
import sys
from datetime import date
from urllib.parse import parse_qs, urlsplit

import pytest

from paylink_tui.domain.whatsapp import whatsapp_message, whatsapp_number, whatsapp_url
from paylink_tui.importer.reader import read_receipts
from paylink_tui.services.history import link_detail
from paylink_tui.services.links import cancel_link, generate_link


@pytest.mark.parametrize(("phone", "number"), [
    ("5512345678", "525512345678"),
    ("55 1234 5678", "525512345678"),
    ("55-1234-5678", "525512345678"),
    (" 55 - 1234 - 5678 ", "525512345678"),
    ("+525512345678", "525512345678"),
    ("+52 55 1234 5678", "525512345678"),
    ("+52-33-1234-5678", "523312345678"),
])
def test_ten_digits_or_plus_52_and_ten_digits_are_a_whatsapp_number(phone, number):
    assert whatsapp_number(phone) == number


@pytest.mark.parametrize("phone", [
    "", None, "551234567", "55123456789", "525512345678", "+52 1 55 1234 5678", "+1 555 123 4567",
    "(55) 1234-5678", "55.1234.5678", "55-abc-5678", "5512345678 ext 2", "+5255123456", "٥٥١٢٣٤٥٦٧٨",
    "+52+5512345678", "55\t1234\t5678",
])
def test_anything_else_has_no_whatsapp(phone):
    assert whatsapp_number(phone) is None
    assert whatsapp_url(phone, "hola") is None


def test_the_address_carries_the_spanish_message_url_encoded():
    message = whatsapp_message(holder="José Peña & Hijos", policy="AXA-1", amount_text="$ 1,234.56 MXN",
                               url="https://u.mitec.com.mx/p/i/AB12?x=1&y=#frag",
                               valid_through=date(2021, 10, 10))
    address = whatsapp_url("55 1234 5678", message)
    assert address is not None and address.startswith("https://wa.me/525512345678?text=")
    query = urlsplit(address).query
    # One parameter only: the &, ? and # of the names and the URL are encoded, not live.
    assert list(parse_qs(query)) == ["text"] and "#" not in address.split("?", 1)[1]
    assert " " not in address and "\n" not in address
    text = parse_qs(query)["text"][0]
    assert text == message
    assert "José Peña & Hijos" in text and "$ 1,234.56 MXN" in text and "AXA-1" in text
    assert "https://u.mitec.com.mx/p/i/AB12?x=1&y=#frag" in text
    assert "válida hasta el domingo 10 de octubre de 2021 a las 23:59" in text


HEADER = "poliza,recibo,nombre,apellido_paterno,email,telefono,monto,vencimiento"


def test_the_import_keeps_every_row_and_reports_the_phones_without_whatsapp(tmp_path):
    path = tmp_path / "recibos.csv"
    path.write_text("\n".join([
        HEADER,
        "P-1,R-1,Ana,Peña,ana@example.com,55 1234 5678,10.00,01/10/2021",
        "P-2,R-2,Luis,Paz,luis@example.com,(55) 1234-5678,10.00,01/10/2021",
        "P-3,R-3,Eva,Ruiz,eva@example.com,551234,10.00,01/10/2021",
        "P-4,R-4,Iván,Soto,ivan@example.com,+52 33 1234 5678,10.00,01/10/2021",
        "P-5,R-5,Rosa,Luna,rosa@example.com,,10.00,01/10/2021",
        "P-6,R-6,Raúl,Mena,raul@example.com," + "1" * 31 + ",10.00,01/10/2021",
        "P-7,R-7,Sara,Vega,sara@example.com,55 1234 5678,-5,01/10/2021",
    ]) + "\n", encoding="utf-8")
    result = read_receipts(path)
    assert [r.receipt for r in result.rows] == ["R-1", "R-2", "R-3", "R-4", "R-5", "R-6"]
    phones = {r.receipt: r.phone for r in result.rows}
    assert phones["R-2"] == "(55) 1234-5678" and phones["R-3"] == "551234"  # kept as written
    assert phones["R-6"] is None  # too long to be a phone: not kept
    assert [(w.line, w.column) for w in result.phone_warnings] == [(3, "telefono"), (4, "telefono"), (7, "telefono")]
    assert str(result.phone_warnings[0]) == (
        "línea 3, columna telefono, valor «(55) 1234-5678»: el teléfono no es un teléfono de 10 "
        "dígitos (o +52 y 10 dígitos, con espacios o guiones): se guarda como está, pero sin WhatsApp")
    assert "más de 30 caracteres: no se guardó" in str(result.phone_warnings[2])
    # The rejected row (negative amount) reports its error only.
    assert [e.line for e in result.errors] == [8]


def test_the_import_command_reports_them_and_exits_zero(tmp_path, monkeypatch):
    import os

    path = tmp_path / "recibos.csv"
    path.write_text(HEADER + "\nP-1,R-1,Ana,Peña,ana@example.com,55 1234,10.00,01/10/2021\n", encoding="utf-8")
    env = {**os.environ, "PAYLINK_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"}
    out = subprocess.run([sys.executable, "-m", "paylink_tui", "import", str(path)],
                         capture_output=True, text=True, env=env, encoding="utf-8")
    assert out.returncode == 0, out.stderr
    assert "Recibos nuevos:        1" in out.stdout
    assert "Teléfonos sin WhatsApp:  1 (las filas sí se importaron)" in out.stdout
    assert "línea 2, columna telefono, valor «55 1234»" in out.stdout


def test_a_link_for_a_client_with_a_phone_offers_whatsapp(make_ctx, sandbox, seed, clock):
    ctx = make_ctx(mit_gen_url=sandbox.gen_url)
    seed(ctx.engine, "AXA-1", [("R-1", "75.17", "MXN")], now=clock(), phone="+52 55-9960-5232")

    link = generate_link(ctx, receipt_numbers=["R-1"], email="cliente@example.com")

    assert link.whatsapp_url is not None
    assert link.whatsapp_url.startswith("https://wa.me/525599605232?text=")
    text = parse_qs(urlsplit(link.whatsapp_url).query)["text"][0]
    assert text == whatsapp_message(holder="Ana Peña Gómez", policy="AXA-1", amount_text="$ 75.17 MXN",
                                    url=link.url, valid_through=date(2021, 10, 10))
    detail = link_detail(ctx, link.reference)
    assert detail is not None and detail.whatsapp_url == link.whatsapp_url
    cancel_link(ctx, link.reference, agent="ana")
    assert link_detail(ctx, link.reference).whatsapp_url is None  # nothing to pay any more


def test_no_whatsapp_without_a_valid_phone(make_ctx, sandbox, seed, clock):
    ctx = make_ctx(mit_gen_url=sandbox.gen_url)
    seed(ctx.engine, "AXA-1", [("R-1", "75.17", "MXN")], now=clock(), phone="55 1234")
    link = generate_link(ctx, receipt_numbers=["R-1"], email="cliente@example.com")
    assert link.whatsapp_url is None and link_detail(ctx, link.reference).whatsapp_url is None


def test_the_link_command_prints_the_whatsapp_line(database_url, real_time_sandbox, mailbox, seed,
                                                   engine, tmp_path):
    from datetime import datetime, timezone

    from tests.helpers import command_env, link_command

    seed(engine, "AXA-1", [("R-1", "75.17", "MXN")], now=datetime.now(timezone.utc), phone="55 1234 5678")
    env = command_env(database_url, tmp_path, PAYLINK_GATEWAY="sandbox",
                      PAYLINK_MIT_GEN_URL=real_time_sandbox.gen_url,
                      PAYLINK_SMTP_HOST="127.0.0.1", PAYLINK_SMTP_PORT=str(mailbox.port))
    proc = link_command("R-1", "--email", "cliente@example.com", env=env)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    (line,) = [x for x in out.splitlines() if x.startswith("WhatsApp: ")]
    assert line.startswith("WhatsApp: https://wa.me/525512345678?text=Hola%2C%20Ana%20Pe%C3%B1a%20G%C3%B3mez.")
