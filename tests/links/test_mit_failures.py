"""When MIT fails: a definite failure stores nothing and queues nothing; an unknown outcome
keeps an unconfirmed link that a retry completes with the SAME reference."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from paylink_tui.domain.status import LinkState
from paylink_tui.services.links import (
    AlreadyLinked,
    GatewayFailure,
    LinkStateError,
    OutcomeUnknown,
    cancel_link,
    generate_link,
    retry_link,
)
from paylink_tui.store.models import AuditEvent, EmailMessage, LinkReceipt, PaymentLink
from tests.helpers import closed_port


def rows(engine, model) -> list:
    with Session(engine) as s:
        return list(s.exec(select(model)).all())


def garbage_app(status: int, body: str) -> Starlette:
    async def gen(request):  # type: ignore[no-untyped-def]
        return PlainTextResponse(body, status_code=status)

    return Starlette(routes=[Route("/gen", gen, methods=["POST"])])


def assert_nothing_stored(engine, get_receipt, hidden_before=None) -> None:
    assert rows(engine, PaymentLink) == []
    assert rows(engine, LinkReceipt) == []
    assert rows(engine, EmailMessage) == []
    assert get_receipt(engine, "R-1").hidden_until == hidden_before


def test_mit_down_stores_no_link_and_queues_no_email(make_ctx, seed, clock, get_receipt,
                                                     mailbox):
    ctx = make_ctx(mit_gen_url=f"http://127.0.0.1:{closed_port()}/gen")
    seed(ctx.engine, "P-1", [("R-1", "75.17", "MXN")], now=clock())

    with pytest.raises(GatewayFailure) as info:
        generate_link(ctx, receipt_numbers=["R-1"], email="cliente@example.com")

    assert "No se pudo conectar con MIT" in info.value.message
    assert "La liga no se generó" in info.value.message
    assert info.value.retryable is True
    assert_nothing_stored(ctx.engine, get_receipt)
    assert mailbox.messages() == []
    (event,) = rows(ctx.engine, AuditEvent)
    assert event.action == "link_failed" and "R-1" in event.detail


def test_mit_refusing_wrong_credentials_keeps_its_message(make_ctx, sandbox, seed, clock,
                                                           get_receipt):
    ctx = make_ctx(mit_gen_url=sandbox.gen_url, mit_password="EQUIVOCADO")
    seed(ctx.engine, "P-1", [("R-1", "75.17", "MXN")], now=clock())

    with pytest.raises(GatewayFailure) as info:
        generate_link(ctx, receipt_numbers=["R-1"], email="cliente@example.com")

    assert "Los datos de acceso del comercio son incorrectos" in info.value.message
    assert info.value.retryable is False
    assert "EQUIVOCADO" not in info.value.message
    assert_nothing_stored(ctx.engine, get_receipt)
    assert sandbox.counter.calls == 1 and sandbox.links == []


def test_a_failed_attempt_leaves_the_receipt_free_for_the_next_one(make_ctx, sandbox, seed,
                                                                   clock):
    down = make_ctx(mit_gen_url=f"http://127.0.0.1:{closed_port()}/gen")
    seed(down.engine, "P-1", [("R-1", "75.17", "MXN")], now=clock())
    with pytest.raises(GatewayFailure):
        generate_link(down, receipt_numbers=["R-1"], email="cliente@example.com")

    up = make_ctx(mit_gen_url=sandbox.gen_url)
    result = generate_link(up, receipt_numbers=["R-1"], email="cliente@example.com")

    assert result.email_status == "sent"
    assert [link.state for link in rows(up.engine, PaymentLink)] == ["active"]


def test_mit_answering_an_http_error_page_stores_nothing(make_ctx, serve, seed, clock,
                                                         get_receipt):
    server = serve(garbage_app(404, "<html><body>Not Found</body></html>"))
    ctx = make_ctx(mit_gen_url=f"{server.url}/gen")
    seed(ctx.engine, "P-1", [("R-1", "75.17", "MXN")], now=clock())

    with pytest.raises(GatewayFailure) as info:
        generate_link(ctx, receipt_numbers=["R-1"], email="cliente@example.com")

    assert "HTTP 404" in info.value.message
    assert_nothing_stored(ctx.engine, get_receipt)


def test_mit_answering_garbage_keeps_an_unconfirmed_link_and_sends_nothing(
    make_ctx, serve, seed, clock, get_receipt, mailbox
):
    # A 200 whose body does not decrypt: MIT may have made the link (the gateway says the
    # outcome is unknown), so the receipts stay reserved under one reference.
    server = serve(garbage_app(200, "esto no es una respuesta de MIT"))
    ctx = make_ctx(mit_gen_url=f"{server.url}/gen")
    seed(ctx.engine, "P-1", [("R-1", "75.17", "MXN")], now=clock())

    with pytest.raises(OutcomeUnknown) as info:
        generate_link(ctx, receipt_numbers=["R-1"], email="cliente@example.com")

    assert "no se pudo descifrar" in info.value.message
    assert "no sabemos si la liga se creó" in info.value.message
    assert info.value.reference in info.value.message
    (link,) = rows(ctx.engine, PaymentLink)
    assert link.state == LinkState.UNCONFIRMED.value and link.url is None
    assert rows(ctx.engine, EmailMessage) == [] and mailbox.messages() == []


def test_a_timeout_leaves_an_unconfirmed_link_and_the_retry_reuses_its_reference(
    make_ctx, sandbox, seed, clock, get_receipt, mailbox
):
    sandbox.counter.delay_first, sandbox.counter.delay_seconds = 1, 2.0
    ctx = make_ctx(mit_gen_url=sandbox.gen_url, mit_timeout=0.5)
    seed(ctx.engine, "P-1", [("R-1", "75.17", "MXN"), ("R-2", "1.00", "MXN")], now=clock())

    with pytest.raises(OutcomeUnknown) as info:
        generate_link(ctx, receipt_numbers=["R-1"], email="cliente@example.com")

    assert info.value.message == (
        "MIT no respondió a tiempo; no sabemos si la liga se creó. Reintente: se usará la "
        f"misma referencia ({info.value.reference})."
    )
    (link,) = rows(ctx.engine, PaymentLink)
    assert link.state == LinkState.UNCONFIRMED.value
    assert get_receipt(ctx.engine, "R-1").hidden_until == link.hidden_until
    assert len(sandbox.links) == 1  # MIT made it; its answer was lost

    # Another set of receipts that includes R-1 cannot get a link meanwhile.
    other = make_ctx(mit_gen_url=sandbox.gen_url, agent="beto")
    with pytest.raises(AlreadyLinked) as blocked:
        generate_link(other, receipt_numbers=["R-1", "R-2"], email="otro@example.com")
    assert "sin confirmar" in blocked.value.message and info.value.reference in (
        blocked.value.message
    )

    # Asking again for the same receipts (whoever asks) completes the same link.
    clock.advance(minutes=1)
    result = generate_link(other, receipt_numbers=["R-1"], email="cliente@example.com")

    assert result.reference == info.value.reference
    assert result.url.endswith("/i/" + sandbox.links[0].id)
    assert sandbox.counter.calls == 2 and len(sandbox.links) == 1
    (link,) = rows(ctx.engine, PaymentLink)
    assert link.state == LinkState.ACTIVE.value and link.last_error is None
    assert len(mailbox.messages()) == 1
    actions = [e.action for e in rows(ctx.engine, AuditEvent)]
    assert actions == ["link_unconfirmed", "link_generated"]


def test_retry_link_by_reference_completes_an_unconfirmed_link(make_ctx, sandbox, seed, clock):
    sandbox.counter.delay_first, sandbox.counter.delay_seconds = 1, 2.0
    ctx = make_ctx(mit_gen_url=sandbox.gen_url, mit_timeout=0.5)
    seed(ctx.engine, "P-1", [("R-1", "75.17", "MXN"), ("R-2", "10.00", "MXN")], now=clock())
    with pytest.raises(OutcomeUnknown) as info:
        generate_link(ctx, policy_number="P-1", email="cliente@example.com")

    result = retry_link(ctx, info.value.reference)

    assert result.reference == info.value.reference
    assert result.receipt_numbers == ("R-1", "R-2") and result.email_status == "sent"
    assert len(sandbox.links) == 1
    with pytest.raises(LinkStateError):
        retry_link(ctx, info.value.reference)  # active now: nothing to retry


def test_a_policy_retry_after_a_timeout_reuses_the_reference(make_ctx, sandbox, seed, clock):
    sandbox.counter.delay_first, sandbox.counter.delay_seconds = 1, 2.0
    ctx = make_ctx(mit_gen_url=sandbox.gen_url, mit_timeout=0.5)
    seed(ctx.engine, "P-1", [("R-1", "75.17", "MXN"), ("R-2", "10.00", "MXN")], now=clock())
    with pytest.raises(OutcomeUnknown) as info:
        generate_link(ctx, policy_number="P-1", email="cliente@example.com")

    result = generate_link(ctx, policy_number="P-1", email="cliente@example.com")

    assert result.reference == info.value.reference and len(sandbox.links) == 1


def test_a_definite_failure_on_retry_keeps_the_link_unconfirmed(make_ctx, sandbox, seed, clock):
    sandbox.counter.delay_first, sandbox.counter.delay_seconds = 1, 2.0
    ctx = make_ctx(mit_gen_url=sandbox.gen_url, mit_timeout=0.5)
    seed(ctx.engine, "P-1", [("R-1", "75.17", "MXN")], now=clock())
    with pytest.raises(OutcomeUnknown) as info:
        generate_link(ctx, receipt_numbers=["R-1"], email="cliente@example.com")

    down = make_ctx(mit_gen_url=f"http://127.0.0.1:{closed_port()}/gen")
    with pytest.raises(GatewayFailure) as failed:
        retry_link(down, info.value.reference)

    assert f"La liga {info.value.reference} sigue sin confirmar" in failed.value.message
    (link,) = rows(ctx.engine, PaymentLink)
    assert link.state == LinkState.UNCONFIRMED.value


def test_a_claim_left_by_a_crashed_process_is_retried_once_stale(make_ctx, sandbox, seed, clock):
    ctx = make_ctx(mit_gen_url=sandbox.gen_url)
    seed(ctx.engine, "P-1", [("R-1", "75.17", "MXN")], now=clock())
    first = generate_link(ctx, receipt_numbers=["R-1"], email="cliente@example.com")
    with Session(ctx.engine) as s:  # as if the process died between the claim and MIT's answer
        link = s.exec(select(PaymentLink)).one()
        link.state, link.url = LinkState.CREATING.value, None
        s.add(link)
        s.commit()

    clock.advance(seconds=30)
    with pytest.raises(AlreadyLinked) as busy:
        generate_link(ctx, receipt_numbers=["R-1"], email="cliente@example.com")
    assert "se está generando" in busy.value.message

    clock.advance(minutes=3)
    again = generate_link(ctx, receipt_numbers=["R-1"], email="cliente@example.com")
    assert again.reference == first.reference and again.url == first.url
    assert len(sandbox.links) == 1


def test_an_unconfirmed_link_can_be_cancelled_and_its_receipts_freed(
    make_ctx, sandbox, seed, clock, get_receipt
):
    sandbox.counter.delay_first, sandbox.counter.delay_seconds = 1, 2.0
    ctx = make_ctx(mit_gen_url=sandbox.gen_url, mit_timeout=0.5)
    seed(ctx.engine, "P-1", [("R-1", "75.17", "MXN")], now=clock())
    with pytest.raises(OutcomeUnknown) as info:
        generate_link(ctx, receipt_numbers=["R-1"], email="cliente@example.com")

    cancel_link(ctx, info.value.reference, agent="ana")

    assert get_receipt(ctx.engine, "R-1").hidden_until is None
    clock.advance(minutes=1)
    result = generate_link(ctx, receipt_numbers=["R-1"], email="cliente@example.com")
    assert result.reference != info.value.reference
