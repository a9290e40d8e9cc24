"""MitGateway over real HTTP: the sandbox under uvicorn, and small loopback servers that
misbehave in each way MIT could."""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from datetime import date, timedelta
from decimal import Decimal

import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from paylink_tui.gateway import sandbox_defaults as sd
from paylink_tui.gateway.base import CreatedLink, LinkRequest, PaymentGateway
from paylink_tui.gateway.crypto import encrypt
from paylink_tui.gateway.errors import (
    GatewayBadResponse,
    GatewayError,
    GatewayHTTPError,
    GatewayRefused,
    GatewayUnavailable,
    GatewayValidationError,
)
from paylink_tui.gateway.mit import MitGateway

SECRETS = (sd.SANDBOX_KEY, sd.SANDBOX_PASSWORD)


def req(reference: str = "PL-1", amount: str = "75.17", **kw) -> LinkRequest:
    return LinkRequest(
        reference=reference, amount=Decimal(amount), currency="MXN",
        valid_through=date.today() + timedelta(days=3), email="ana@example.com", **kw,
    )


def gateway_for(url: str, **kwargs) -> MitGateway:
    args = dict(data0=sd.SANDBOX_DATA0, key=sd.SANDBOX_KEY, id_company=sd.SANDBOX_ID_COMPANY,
                id_branch=sd.SANDBOX_ID_BRANCH, user=sd.SANDBOX_USER,
                password=sd.SANDBOX_PASSWORD, timeout=5.0)
    args.update(kwargs)
    return MitGateway(url, **args)


def assert_no_secrets(err: GatewayError) -> None:
    for secret in SECRETS:
        assert secret not in err.message
    assert "<pwd>" not in err.message and "<P>" not in err.message


def fixed_app(body: str | bytes, status: int = 200, delay: float = 0.0) -> Starlette:
    async def gen(request):
        await request.form()
        if delay:
            await asyncio.sleep(delay)
        return Response(body, status_code=status, media_type="text/plain")

    return Starlette(routes=[Route("/gen", gen, methods=["POST"])])


# -- against the sandbox -----------------------------------------------------------------


def test_the_gateway_satisfies_the_interface(gateway):
    assert isinstance(gateway, PaymentGateway)
    assert gateway.can_query is False  # no PAYLINK_MIT_QUERY_URL: tests/gateway/test_mit_query.py


def test_creates_a_link_on_the_sandbox_over_http(sandbox_env, gateway):
    link = gateway.create_link(req(extra=(("Póliza", "Peña & Hijos"),)))
    assert isinstance(link, CreatedLink)
    assert link.url == f"{sandbox_env.url}/i/{link.link_id}"
    assert len(link.link_id) == 8
    stored = sandbox_env.sandbox.state.links[link.link_id]
    assert (stored.reference, stored.amount, stored.email) == ("PL-1", Decimal("75.17"),
                                                               "ana@example.com")
    assert stored.extra == (("Póliza", "Peña & Hijos"),)


def test_extra_data_at_the_root_is_understood_too(sandbox_env):
    with sandbox_env.gateway(extra_data_in="root") as gw:
        link = gw.create_link(req(extra=(("Recibo", "R-9"),)))
    assert sandbox_env.sandbox.state.links[link.link_id].extra == (("Recibo", "R-9"),)


def test_repeating_a_reference_with_the_same_amount_returns_the_same_link(gateway):
    first = gateway.create_link(req("PL-RETRY"))
    again = gateway.create_link(req("PL-RETRY"))
    assert again == first


def test_a_reference_reused_with_another_amount_is_refused(gateway):
    gateway.create_link(req("PL-2", "10.00"))
    with pytest.raises(GatewayRefused) as info:
        gateway.create_link(req("PL-2", "10.01"))
    assert "otro monto" in info.value.message
    assert info.value.retryable is False and info.value.outcome_unknown is False


def test_wrong_business_credentials_are_refused_with_mits_message(sandbox_env):
    with sandbox_env.gateway(password="OTRACLAVE") as gw, pytest.raises(GatewayRefused) as info:
        gw.create_link(req())
    assert info.value.cd_response == "error"
    assert "datos de acceso del comercio" in info.value.message
    assert "OTRACLAVE" not in info.value.message


def test_older_sandbox_user_name_is_accepted(sandbox_env):
    with sandbox_env.gateway(user="SNBXUSR01") as gw:
        assert gw.create_link(req("PL-OLD")).link_id


def test_wrong_data0_comes_back_as_mits_json_validation_list(sandbox_env):
    with sandbox_env.gateway(data0="OTRO123") as gw, \
            pytest.raises(GatewayValidationError) as info:
        gw.create_link(req())
    assert info.value.errors == [("data0", "El elemento data0 es incorrecto")]
    assert "data0: El elemento data0 es incorrecto" in info.value.message
    assert info.value.retryable is False


def test_a_request_encrypted_with_another_key_is_rejected_as_invalid_data(sandbox_env):
    with sandbox_env.gateway(key="00112233445566778899AABBCCDDEEFF") as gw, \
            pytest.raises(GatewayValidationError) as info:
        gw.create_link(req())
    assert info.value.errors[0][0] == "data"
    assert_no_secrets(info.value)


def test_a_past_valid_through_date_is_refused_by_the_sandbox(gateway):
    past = LinkRequest("PL-OLD", Decimal("1.00"), "MXN", date.today() - timedelta(days=2))
    with pytest.raises(GatewayRefused) as info:
        gateway.create_link(past)
    assert "vigencia" in info.value.message


def test_logs_carry_reference_and_outcome_but_no_secrets(gateway, caplog):
    caplog.set_level(logging.DEBUG, logger="paylink_tui.gateway")
    gateway.create_link(req("PL-LOG"))
    text = caplog.text
    assert "PL-LOG" in text and "created" in text
    for secret in SECRETS:
        assert secret not in text


# -- failures from real loopback servers ---------------------------------------------------


def test_refused_connection_is_unavailable_and_certainly_not_created():
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with gateway_for(f"http://127.0.0.1:{port}/gen") as gw, \
            pytest.raises(GatewayUnavailable) as info:
        gw.create_link(req())
    assert info.value.retryable is True and info.value.outcome_unknown is False
    assert "No se pudo conectar con MIT" in info.value.message


def test_an_answer_slower_than_the_timeout_leaves_the_outcome_unknown(serve):
    server = serve(fixed_app("tarde", delay=1.5))
    with gateway_for(f"{server.url}/gen", timeout=0.3) as gw, \
            pytest.raises(GatewayUnavailable) as info:
        gw.create_link(req())
    assert info.value.retryable is True and info.value.outcome_unknown is True
    assert "misma referencia" in info.value.message


@pytest.mark.parametrize(("status", "retryable", "unknown"),
                         [(500, True, True), (503, True, False), (404, False, False)])
def test_http_error_statuses_are_typed(serve, status, retryable, unknown):
    server = serve(fixed_app("error", status=status))
    with gateway_for(f"{server.url}/gen") as gw, pytest.raises(GatewayHTTPError) as info:
        gw.create_link(req())
    assert info.value.status_code == status
    assert (info.value.retryable, info.value.outcome_unknown) == (retryable, unknown)
    assert f"HTTP {status}" in info.value.message


def test_garbage_body_is_a_bad_response_with_unknown_outcome(serve):
    server = serve(fixed_app("<html>Mantenimiento</html>"))
    with gateway_for(f"{server.url}/gen") as gw, pytest.raises(GatewayBadResponse) as info:
        gw.create_link(req())
    assert info.value.outcome_unknown is True
    assert "no se pudo descifrar" in info.value.message


def test_response_encrypted_with_another_key_is_a_bad_response(serve):
    body = encrypt("<P_RESPONSE><cd_response>success</cd_response></P_RESPONSE>",
                   "00112233445566778899AABBCCDDEEFF")
    server = serve(fixed_app(body))
    with gateway_for(f"{server.url}/gen") as gw, pytest.raises(GatewayBadResponse):
        gw.create_link(req())


def test_json_error_list_shows_each_field_and_message(serve):
    body = ('[{"defaultMessage":"El elemento amount es incorrecto","field":"amount",'
            '"rejectedvalue":"x"},{"defaultMessage":"Falta moneda","field":"moneda"}]')
    server = serve(fixed_app(body))
    with gateway_for(f"{server.url}/gen") as gw, pytest.raises(GatewayValidationError) as info:
        gw.create_link(req())
    assert info.value.errors == [("amount", "El elemento amount es incorrecto"),
                                 ("moneda", "Falta moneda")]
    assert "amount: El elemento amount es incorrecto; moneda: Falta moneda" in info.value.message


def test_non_success_code_shows_mits_message(serve):
    body = encrypt("<P_RESPONSE><cd_response>error</cd_response><nb_response>Comercio "
                   "inactivo</nb_response><nb_url/></P_RESPONSE>", sd.SANDBOX_KEY)
    server = serve(fixed_app(body))
    with gateway_for(f"{server.url}/gen") as gw, pytest.raises(GatewayRefused) as info:
        gw.create_link(req())
    assert "Comercio inactivo" in info.value.message and info.value.cd_response == "error"


def test_success_without_a_url_is_a_bad_response(serve):
    body = encrypt("<P_RESPONSE><cd_response>success</cd_response><nb_response/>"
                   "<nb_url></nb_url></P_RESPONSE>", sd.SANDBOX_KEY)
    server = serve(fixed_app(body))
    with gateway_for(f"{server.url}/gen") as gw, pytest.raises(GatewayBadResponse):
        gw.create_link(req())


def test_a_response_with_a_dtd_is_refused_unparsed(serve):
    body = encrypt('<!DOCTYPE P_RESPONSE [<!ENTITY a "x">]><P_RESPONSE><cd_response>&a;'
                   "</cd_response></P_RESPONSE>", sd.SANDBOX_KEY)
    server = serve(fixed_app(body))
    with gateway_for(f"{server.url}/gen") as gw, pytest.raises(GatewayBadResponse):
        gw.create_link(req())


def test_connection_dropped_after_the_request_leaves_the_outcome_unknown():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]

    def drop_one() -> None:
        conn, _ = listener.accept()
        conn.recv(65536)  # read the request, then hang up without answering
        conn.close()

    thread = threading.Thread(target=drop_one, daemon=True)
    thread.start()
    try:
        with gateway_for(f"http://127.0.0.1:{port}/gen") as gw, \
                pytest.raises(GatewayUnavailable) as info:
            gw.create_link(req())
        assert info.value.outcome_unknown is True
    finally:
        thread.join(timeout=5)
        listener.close()


def test_one_http_client_is_reused_across_requests(gateway):
    client = gateway._client
    gateway.create_link(req("PL-A"))
    gateway.create_link(req("PL-B"))
    assert gateway._client is client and not client.is_closed
    gateway.close()
    assert client.is_closed


def test_a_caller_supplied_client_is_not_closed(sandbox_env):
    import httpx

    with httpx.Client() as client:
        gw = sandbox_env.gateway(client=client)
        assert gw.create_link(req("PL-C")).link_id
        gw.close()
        assert not client.is_closed


def test_plaintext_responses_other_than_ours_are_never_echoed(serve):
    server = serve(fixed_app(PlainTextResponse("x").body * 3))
    with gateway_for(f"{server.url}/gen") as gw, pytest.raises(GatewayBadResponse) as info:
        gw.create_link(req())
    assert "xxx" not in info.value.message


@pytest.mark.parametrize("url", ["http://u.mitec.com.mx/gen", "http://192.0.2.10:8080/gen",
                                 "http://localhost.mitec.com.mx/gen"])
def test_an_http_mit_url_off_this_machine_is_refused(url):
    from paylink_tui.gateway.errors import GatewayConfigInvalid

    with pytest.raises(GatewayConfigInvalid) as info:
        MitGateway(url, sd.SANDBOX_DATA0, sd.SANDBOX_KEY, sd.SANDBOX_ID_COMPANY,
                   sd.SANDBOX_ID_BRANCH, sd.SANDBOX_USER, sd.SANDBOX_PASSWORD)
    assert "PAYLINK_MIT_GEN_URL" in info.value.message and "https://" in info.value.message


@pytest.mark.parametrize("url", ["https://u.mitec.com.mx/gen", "http://127.0.0.1:8765/gen",
                                 "http://localhost:8765/gen", "http://[::1]:8765/gen"])
def test_https_or_http_to_this_machine_is_accepted(url):
    MitGateway(url, sd.SANDBOX_DATA0, sd.SANDBOX_KEY, sd.SANDBOX_ID_COMPANY,
               sd.SANDBOX_ID_BRANCH, sd.SANDBOX_USER, sd.SANDBOX_PASSWORD).close()
