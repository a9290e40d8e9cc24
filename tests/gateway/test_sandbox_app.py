"""The MIT sandbox over real HTTP: generation protocol, payment form, notifications."""

from __future__ import annotations

import logging
import re
import socket
from datetime import date, timedelta
from decimal import Decimal

import httpx
import pendulum
import pytest

from paylink_tui.gateway import sandbox_defaults as sd
from paylink_tui.gateway.base import LinkRequest
from paylink_tui.gateway.crypto import decrypt
from paylink_tui.gateway.messages import parse_notification
from paylink_tui.gateway.mit import MitGateway
from paylink_tui.gateway.sandbox import create_sandbox_app

TZ = "America/Mexico_City"
GOOD = {
    "nombre": "Ana", "apellido_paterno": "Peña", "apellido_materno": "Ruiz",
    "tarjeta": "4111 1111 1111 1111", "expira": "12/39", "cvv": "123",
    "correo": "ana@example.com", "terminos": "on",
}


def local_today(clock) -> date:
    return pendulum.instance(clock()).in_timezone(TZ).date()


def make_link(env, reference="PL-1", amount="75.17", valid_days=3, email="ana@example.com"):
    with env.gateway() as gw:
        return gw.create_link(LinkRequest(
            reference, Decimal(amount), "MXN", local_today(env.clock) + timedelta(days=valid_days),
            email, (("Póliza", "P-77"),),
        ))


def pay(link, **changes):
    form = {**GOOD, **changes}
    return httpx.post(f"{link.url}/pagar", data={k: v for k, v in form.items() if v is not None})


def notifications(env):
    assert env.sandbox.wait_idle_sync(10)
    return [parse_notification(b, sd.SANDBOX_KEY) for b in env.receiver.bodies]


def test_health_and_index(sandbox_env):
    link = make_link(sandbox_env)
    assert httpx.get(f"{sandbox_env.url}/salud").text == "ok"
    index = httpx.get(f"{sandbox_env.url}/").text
    assert "PL-1" in index and f"/i/{link.link_id}" in index and "Activa" in index


def test_missing_xml_field_gets_mits_json_error(sandbox_env):
    resp = httpx.post(f"{sandbox_env.url}/gen", data={})
    assert resp.json() == [{"defaultMessage": "El elemento xml es requerido", "field": "xml",
                            "rejectedvalue": None}]


def test_generation_answers_encrypted_p_response_with_link_url(sandbox_env):
    link = make_link(sandbox_env)
    assert link.url.startswith(f"{sandbox_env.url}/i/")
    # the raw answer really is bare base64 of MIT's P_RESPONSE
    resp = httpx.post(f"{sandbox_env.url}/gen", data={"xml": "<pgs><data0>SNDBX123</data0>"
                                                      "<data>AAAA</data></pgs>"})
    assert resp.json()[0]["field"] == "data"


def test_payment_page_shows_amount_reference_and_the_fields_of_the_form(sandbox_env):
    link = make_link(sandbox_env)
    page = httpx.get(link.url).text
    for text in ("$ 75.17 MXN", "PL-1", "Nombre", "Apellido Paterno", "Apellido Materno",
                 "Número de tarjeta", "Expira (MM/AA)", "CVV", "Correo electrónico",
                 "Acepto Términos y condiciones", "PAGAR $ 75.17", "4111 1111 1111 1111",
                 'value="ana@example.com"', "Póliza: P-77"):
        assert text in page, text


def test_approved_payment_shows_receipt_and_notifies_every_field(sandbox_env):
    link = make_link(sandbox_env)
    resp = pay(link)
    assert resp.status_code == 200 and "Aprobado" in resp.text
    [n] = notifications(sandbox_env)
    assert (n.reference, n.response, n.cd_response, n.amount) == ("PL-1", "approved", "0C",
                                                                  Decimal("75.17"))
    # 6 to 8 digits: MIT's query lists them zero-padded to 9 (test_mit_query.py).
    assert n.folio.isdigit() and 6 <= len(n.folio) <= 8 and n.folio in resp.text
    assert len(n.auth) == 6 and n.auth.isdigit() and n.auth in resp.text
    assert (n.cc_mask, n.cc_number, n.cc_type) == ("411111XXXXXX1111", "1111",
                                                   "CREDITO/BANCO MIT/Visa")
    assert (n.cc_name, n.email, n.nb_company, n.tp_operation) == (
        "Ana Peña Ruiz", "ana@example.com", "AXA", "VENTA")
    assert n.id_url == link.link_id and n.extra == (("Póliza", "P-77"),)
    local = pendulum.instance(sandbox_env.clock()).in_timezone(TZ)
    assert (n.date, n.time) == (local.strftime("%d/%m/%y"), local.strftime("%H:%M:%S"))
    assert f"{n.date} {n.time}" in resp.text


def test_a_paid_link_cannot_be_paid_again(sandbox_env):
    link = make_link(sandbox_env)
    pay(link)
    again = pay(link)
    assert again.status_code == 409 and "ya fue pagada" in again.text
    assert "ya fue pagada" in httpx.get(link.url).text
    assert len(notifications(sandbox_env)) == 1


def test_denied_then_approved_sends_two_notifications_with_distinct_folios(sandbox_env):
    link = make_link(sandbox_env)
    denied = pay(link, tarjeta="4000 0000 0000 0002")
    assert "Rechazado" in denied.text and "Intentar con otra tarjeta" in denied.text
    assert "PAGAR $ 75.17" in httpx.get(link.url).text  # still payable
    assert "Aprobado" in pay(link).text
    first, second = notifications(sandbox_env)
    assert (first.response, first.cd_error, first.auth) == ("denied", "05", "")
    assert "rechazada" in first.nb_error
    assert second.response == "approved" and first.folio != second.folio


def test_error_card_notifies_an_error(sandbox_env):
    link = make_link(sandbox_env)
    assert "Error" in pay(link, tarjeta="4000000000000119").text
    [n] = notifications(sandbox_env)
    assert (n.response, n.cd_error) == ("error", "18") and n.nb_error


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"tarjeta": "4111 1111 1111 1112"}, "tarjeta", "no es válido"),
        ({"tarjeta": ""}, "tarjeta", "Escriba el número"),
        ({"expira": "01/20"}, "expira", "vencida"),
        ({"expira": "13/30"}, "expira", "MM/AA"),
        ({"cvv": "12"}, "cvv", "3 o 4 dígitos"),
        ({"correo": "no-es-correo"}, "correo", "no es válido"),
        ({"nombre": ""}, "nombre", "nombre"),
        ({"terminos": None}, "terminos", "Términos y condiciones"),
    ],
)
def test_invalid_form_shows_the_message_next_to_its_field_and_keeps_values(
        sandbox_env, changes, field, words):
    link = make_link(sandbox_env)
    resp = pay(link, **changes)
    assert resp.status_code == 422
    assert f'id="error-{field}"' in resp.text and words in resp.text
    assert 'value="Peña"' in resp.text  # the payer does not retype the rest
    assert "4111 1111 1111 1111\"" not in resp.text and 'value="123"' not in resp.text
    assert sandbox_env.sandbox.state.links[link.link_id].payments == []
    assert notifications(sandbox_env) == []


def test_card_data_never_reaches_the_logs(sandbox_env, caplog):
    caplog.set_level(logging.DEBUG)
    pay(make_link(sandbox_env), tarjeta="5454 5454 5454 5454", cvv="987")
    notifications(sandbox_env)
    assert "5454545454545454" not in caplog.text and "5454 5454" not in caplog.text
    assert not re.search(r"\b987\b", caplog.text)
    payment = sandbox_env.sandbox.state.links[next(iter(sandbox_env.sandbox.state.links))]
    assert payment.payments[0].cc_mask == "545454XXXXXX5454"


def test_link_expires_at_local_midnight_after_its_last_day(sandbox_env):
    clock = sandbox_env.clock
    clock.current = pendulum.datetime(2031, 10, 7, 16, 4, tz=TZ).in_timezone("UTC")
    link = make_link(sandbox_env, valid_days=3)  # payable through 10/10/2031 local
    clock.current = pendulum.datetime(2031, 10, 10, 23, 59, 59, tz=TZ).in_timezone("UTC")
    assert "PAGAR $ 75.17" in httpx.get(link.url).text
    clock.current = pendulum.datetime(2031, 10, 11, 0, 0, 0, tz=TZ).in_timezone("UTC")
    page = httpx.get(link.url).text
    assert "Liga vencida" in page and "10/10/2031" in page
    assert "Liga vencida" in pay(link).text
    assert notifications(sandbox_env) == []


def test_unknown_link_is_a_spanish_404(sandbox_env):
    resp = httpx.get(f"{sandbox_env.url}/i/NOEXISTE")
    assert resp.status_code == 404 and "Liga no encontrada" in resp.text


def test_notification_is_retried_while_the_receiver_answers_5xx(sandbox_env):
    sandbox_env.receiver.fail_first = 2
    pay(make_link(sandbox_env))
    [n] = notifications(sandbox_env)
    [delivery] = sandbox_env.sandbox.state.deliveries
    assert delivery.delivered and delivery.attempts == 3 and n.response == "approved"


def test_notification_retries_are_bounded_when_the_receiver_is_down(serve, clock):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}/mit/notificacion"
    app = create_sandbox_app(notify_url=dead, now=clock, notify_retry_delays=(0.01, 0.02))
    server = serve(app)
    with httpx.Client() as client:
        gw = MitGateway(f"{server.url}/gen", sd.SANDBOX_DATA0, sd.SANDBOX_KEY, "SNBX",
                        "01SNBXBRNCH", "SNBXUSR0123", "SECRETO", client=client)
        link = gw.create_link(LinkRequest("PL-D", Decimal("5.00"), "USD",
                                          local_today(clock) + timedelta(days=1)))
        assert "Aprobado" in pay(link).text
    assert app.state.sandbox.wait_idle_sync(10)
    [delivery] = app.state.sandbox.state.deliveries
    assert delivery.gave_up and not delivery.delivered and delivery.attempts == 3


def test_without_a_notify_url_payments_still_work(serve, clock):
    app = create_sandbox_app(notify_url=None, now=clock)
    server = serve(app)
    with MitGateway(f"{server.url}/gen", sd.SANDBOX_DATA0, sd.SANDBOX_KEY, "SNBX",
                    "01SNBXBRNCH", "SNBXUSR01", "SECRETO") as gw:
        link = gw.create_link(LinkRequest("PL-N", Decimal("1.00"), "MXN", local_today(clock)))
    assert "Aprobado" in pay(link).text
    assert app.state.sandbox.wait_idle_sync(1)
    [delivery] = app.state.sandbox.state.deliveries
    assert delivery.attempts == 0 and not delivery.delivered
    assert "sin destino" in httpx.get(f"{server.url}/").text


def test_sandbox_answers_are_encrypted_with_the_key(sandbox_env):
    # A refusal is still MIT's encrypted P_RESPONSE, not plain text.
    from paylink_tui.gateway.crypto import encrypt
    plain = ("<P><business><id_company>SNBX</id_company><id_branch>01SNBXBRNCH</id_branch>"
             "<user>SNBXUSR0123</user><pwd>SECRETO</pwd></business><url><reference>R"
             "</reference><amount>1.0</amount><moneda>MXN</moneda><canal>W</canal></url>"
             "<version>IntegraWPP</version></P>")
    xml = f"<pgs><data0>SNDBX123</data0><data>{encrypt(plain, sd.SANDBOX_KEY)}</data></pgs>"
    body = httpx.post(f"{sandbox_env.url}/gen", data={"xml": xml}).text
    answer = decrypt(body, sd.SANDBOX_KEY)
    assert "<cd_response>error</cd_response>" in answer and "amount" in answer


def test_sdk_sample_request_without_optional_fields_is_accepted(sandbox_env):
    from paylink_tui.gateway.crypto import encrypt
    plain = ('<?xml version="1.0" encoding="UTF-8"?>\n<P><business><id_company>SNBX'
             "</id_company><id_branch>01SNBXBRNCH</id_branch>\n<user>SNBXUSR0123</user><pwd>"
             "SECRETO</pwd></business>\n<url><reference>FACTURA999</reference><amount>1.00"
             "</amount><moneda>MXN</moneda>\n<canal>W</canal></url><version>IntegraWPP"
             "</version></P>")
    xml = f"<pgs><data0>SNDBX123</data0><data>{encrypt(plain, sd.SANDBOX_KEY)}</data></pgs>"
    answer = decrypt(httpx.post(f"{sandbox_env.url}/gen", data={"xml": xml}).text,
                     sd.SANDBOX_KEY)
    assert "<cd_response>success</cd_response>" in answer
    assert f"<nb_url>{sandbox_env.url}/i/" in answer




def test_mounted_under_a_prefix_links_and_forms_keep_the_prefix(serve, clock, receiver):
    from starlette.applications import Starlette
    from starlette.routing import Mount

    recv = serve(receiver.app())
    inner = create_sandbox_app(notify_url=f"{recv.url}/mit/notificacion", now=clock,
                               notify_retry_delays=(0.05,))
    server = serve(Starlette(routes=[Mount("/sandbox", app=inner)]))
    with MitGateway(f"{server.url}/sandbox/gen", sd.SANDBOX_DATA0, sd.SANDBOX_KEY, "SNBX",
                    "01SNBXBRNCH", "SNBXUSR0123", "SECRETO") as gw:
        link = gw.create_link(LinkRequest("PL-M", Decimal("9.99"), "MXN", local_today(clock)))
    assert link.url == f"{server.url}/sandbox/i/{link.link_id}"
    assert f'action="/sandbox/i/{link.link_id}/pagar"' in httpx.get(link.url).text
    denied = pay(link, tarjeta="4000000000000002")
    assert f'href="/sandbox/i/{link.link_id}"' in denied.text
    assert inner.state.sandbox.wait_idle_sync(10) and len(receiver.bodies) == 1


def test_simultaneous_submissions_approve_only_once(sandbox_env):
    import asyncio

    link = make_link(sandbox_env)

    async def both():
        async with httpx.AsyncClient() as client:
            return await asyncio.gather(*(client.post(f"{link.url}/pagar", data=GOOD)
                                          for _ in range(4)))

    statuses = sorted(r.status_code for r in asyncio.run(both()))
    assert statuses == [200, 409, 409, 409]
    assert [n.response for n in notifications(sandbox_env)] == ["approved"]


@pytest.mark.parametrize("host", ["evil.example", "127.0.0.1.nip.io", "pagos.agencia.mx:8765"])
def test_a_request_for_another_host_name_is_refused_dns_rebinding(sandbox_env, host):
    made = make_link(sandbox_env)
    for path in ("/", made.url.split(sandbox_env.url, 1)[1]):
        resp = httpx.get(f"{sandbox_env.url}{path}", headers={"Host": host})
        assert resp.status_code == 421, path
        assert "esta máquina" in resp.text and "PL-1" not in resp.text


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1:8765", "[::1]:8765", "LOCALHOST."])
def test_loopback_host_names_are_served(sandbox_env, host):
    assert httpx.get(f"{sandbox_env.url}/salud", headers={"Host": host}).status_code == 200


def test_extra_host_names_given_are_served(serve, clock):
    server = serve(create_sandbox_app(now=clock, allowed_hosts=("pruebas.agencia.mx",)))
    ok = httpx.get(f"{server.url}/salud", headers={"Host": "pruebas.agencia.mx:8080"})
    other = httpx.get(f"{server.url}/salud", headers={"Host": "otra.agencia.mx"})
    assert (ok.status_code, other.status_code) == (200, 421)


def test_inside_serve_the_sandbox_lists_no_links_but_serves_their_pages(serve, sqlite_url):
    from paylink_tui.services.context import AppContext
    from paylink_tui.store.db import make_engine
    from paylink_tui.web.app import create_app
    from tests.notifications.support import settings_for

    engine = make_engine(sqlite_url)
    try:
        ctx = AppContext(settings=settings_for(sqlite_url), engine=engine)
        server = serve(create_app(ctx, serve_sandbox=True, deliver_interval=0))
        sandbox = server.app.state.sandbox
        with MitGateway(f"{server.url}/gen", sd.SANDBOX_DATA0, sd.SANDBOX_KEY,
                        sd.SANDBOX_ID_COMPANY, sd.SANDBOX_ID_BRANCH, sd.SANDBOX_USER,
                        sd.SANDBOX_PASSWORD) as gw:
            made = gw.create_link(LinkRequest("PL-SECRETA", Decimal("75.17"), "MXN",
                                              local_today(sandbox.state.now) + timedelta(days=3)))
        index = httpx.get(f"{server.url}/")
        assert index.status_code == 404 and "PL-SECRETA" not in index.text
        assert "PL-SECRETA" in httpx.get(made.url).text  # the client's own page still works
        # MIT's notifications reach the receiver whatever Host its proxy sends.
        resp = httpx.post(f"{server.url}/mit/notificacion", data={"strResponse": "x"},
                          headers={"Host": "pagos.agencia.mx"})
        assert resp.status_code == 400 and resp.text == "Notificación rechazada."
    finally:
        engine.dispose()
