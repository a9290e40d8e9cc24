"""The last step of a link's creation only acts on a claim that is still its own: a stale
claim cancelled or completed by someone else meanwhile is left as they left it."""

from __future__ import annotations

import threading
import time

import pytest
from sqlmodel import Session, select

from paylink_tui.domain.status import LinkState
from paylink_tui.services.links import (
    LinkStateError,
    OutcomeUnknown,
    cancel_link,
    generate_link,
    retry_link,
)
from paylink_tui.store.models import EmailMessage, PaymentLink


def the_link(engine) -> PaymentLink:
    with Session(engine) as s:
        return s.exec(select(PaymentLink)).one()


def emails(engine) -> list[EmailMessage]:
    with Session(engine) as s:
        return list(s.exec(select(EmailMessage)).all())


def in_background(fn, *args, **kwargs) -> tuple[threading.Thread, dict]:
    """Run fn in a thread; the dict gets its 'result' or 'error'."""
    out: dict = {}

    def run() -> None:
        try:
            out["result"] = fn(*args, **kwargs)
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            out["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, out


def wait_for_call(sandbox, calls: int = 1) -> None:
    """Until MIT (the sandbox) has received `calls` requests: the claim is then in flight."""
    deadline = time.monotonic() + 10
    while sandbox.counter.calls < calls:
        assert time.monotonic() < deadline, "the MIT call never started"
        time.sleep(0.01)


def test_a_stale_claim_cancelled_meanwhile_stays_cancelled_when_its_call_times_out(
    make_ctx, sandbox, seed, clock, get_receipt, mailbox
):
    sandbox.counter.delay_first, sandbox.counter.delay_seconds = 1, 3.0
    slow = make_ctx(mit_gen_url=sandbox.gen_url, mit_timeout=1.5)
    seed(slow.engine, "P-1", [("R-1", "75.17", "MXN")], now=clock())
    thread, out = in_background(generate_link, slow, receipt_numbers=["R-1"],
                                email="cliente@example.com")
    wait_for_call(sandbox)

    # The claim looks abandoned to another agent, who cancels it.
    clock.advance(minutes=3)
    other = make_ctx(mit_gen_url=sandbox.gen_url, agent="beto")
    cancel_link(other, the_link(other.engine).reference, agent="beto")
    thread.join(timeout=15)

    assert isinstance(out.get("error"), OutcomeUnknown)
    link = the_link(slow.engine)
    assert link.state == LinkState.CANCELLED.value and link.cancelled_by == "beto"
    assert get_receipt(slow.engine, "R-1").hidden_until is None
    assert emails(slow.engine) == [] and mailbox.messages() == []


def test_mit_answering_after_the_stale_claim_was_cancelled_sends_nothing(
    make_ctx, sandbox, seed, clock, mailbox
):
    sandbox.counter.delay_first, sandbox.counter.delay_seconds = 1, 1.5
    slow = make_ctx(mit_gen_url=sandbox.gen_url, mit_timeout=5.0)
    seed(slow.engine, "P-1", [("R-1", "75.17", "MXN")], now=clock())
    thread, out = in_background(generate_link, slow, receipt_numbers=["R-1"],
                                email="cliente@example.com")
    wait_for_call(sandbox)

    clock.advance(minutes=3)
    cancel_link(make_ctx(mit_gen_url=sandbox.gen_url), the_link(slow.engine).reference,
                agent="beto")
    thread.join(timeout=15)

    assert isinstance(out.get("error"), LinkStateError)
    assert "fue cancelada mientras tanto" in out["error"].message
    link = the_link(slow.engine)
    assert link.state == LinkState.CANCELLED.value and link.url  # MIT's URL kept
    assert emails(slow.engine) == [] and mailbox.messages() == []


def test_a_stale_claim_and_its_retry_both_answered_by_mit_send_one_email(
    make_ctx, sandbox, seed, clock, mailbox
):
    sandbox.counter.delay_first, sandbox.counter.delay_seconds = 1, 1.5
    slow = make_ctx(mit_gen_url=sandbox.gen_url, mit_timeout=5.0)
    seed(slow.engine, "P-1", [("R-1", "75.17", "MXN")], now=clock())
    thread, out = in_background(generate_link, slow, receipt_numbers=["R-1"],
                                email="cliente@example.com")
    wait_for_call(sandbox)

    clock.advance(minutes=3)  # the first claim is stale: the same receipts retry it
    other = make_ctx(mit_gen_url=sandbox.gen_url, agent="beto")
    retried = generate_link(other, receipt_numbers=["R-1"], email="cliente@example.com")
    assert retried.email_status == "sent"
    thread.join(timeout=15)

    first = out.get("result")
    assert first is not None, out.get("error")
    assert first.reference == retried.reference and first.url == retried.url
    assert the_link(slow.engine).state == LinkState.ACTIVE.value
    assert len(emails(slow.engine)) == 1 and len(mailbox.messages()) == 1
    assert sandbox.counter.calls == 2 and len(sandbox.links) == 1


def test_a_link_paid_before_a_late_confirmation_stays_paid(make_ctx, sandbox, seed, clock,
                                                            mailbox):
    sandbox.counter.delay_first, sandbox.counter.delay_seconds = 1, 1.5
    slow = make_ctx(mit_gen_url=sandbox.gen_url, mit_timeout=5.0)
    seed(slow.engine, "P-1", [("R-1", "75.17", "MXN")], now=clock())
    thread, out = in_background(generate_link, slow, receipt_numbers=["R-1"],
                                email="cliente@example.com")
    wait_for_call(sandbox)
    clock.advance(minutes=3)
    generate_link(make_ctx(mit_gen_url=sandbox.gen_url), receipt_numbers=["R-1"],
                  email="cliente@example.com")
    with Session(slow.engine) as s:  # paid meanwhile (as a notification would mark it)
        link = s.exec(select(PaymentLink)).one()
        link.state = LinkState.PAID.value
        s.add(link)
        s.commit()
    thread.join(timeout=15)

    assert "result" in out, out.get("error")
    assert the_link(slow.engine).state == LinkState.PAID.value
    assert len(emails(slow.engine)) == 1 and len(mailbox.messages()) == 1


def test_a_retry_hides_the_receipts_again_until_the_links_day_five(
    make_ctx, sandbox, seed, clock, get_receipt
):
    sandbox.counter.delay_first, sandbox.counter.delay_seconds = 1, 2.0
    ctx = make_ctx(mit_gen_url=sandbox.gen_url, mit_timeout=0.5)
    seed(ctx.engine, "P-1", [("R-1", "75.17", "MXN")], now=clock())
    with pytest.raises(OutcomeUnknown) as info:
        generate_link(ctx, receipt_numbers=["R-1"], email="cliente@example.com")
    with Session(ctx.engine) as s:  # something (an import, a bug) showed the receipt again
        r = s.exec(select(type(get_receipt(ctx.engine, "R-1")))).one()
        r.hidden_until = None
        s.add(r)
        s.commit()

    retry_link(ctx, info.value.reference)

    assert get_receipt(ctx.engine, "R-1").hidden_until == the_link(ctx.engine).hidden_until


def test_a_definite_failure_after_the_stale_claim_was_cancelled_keeps_the_cancelled_link(
    make_ctx, serve, seed, clock, get_receipt
):
    import asyncio

    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    calls: list[int] = []

    async def gen(request):  # type: ignore[no-untyped-def]
        calls.append(1)
        await asyncio.sleep(1.5)
        return PlainTextResponse("<html>Not Found</html>", status_code=404)

    server = serve(Starlette(routes=[Route("/gen", gen, methods=["POST"])]))
    slow = make_ctx(mit_gen_url=f"{server.url}/gen", mit_timeout=5.0)
    seed(slow.engine, "P-1", [("R-1", "75.17", "MXN")], now=clock())
    thread, out = in_background(generate_link, slow, receipt_numbers=["R-1"],
                                email="cliente@example.com")
    deadline = time.monotonic() + 10
    while not calls:
        assert time.monotonic() < deadline, "the MIT call never started"
        time.sleep(0.01)

    clock.advance(minutes=3)
    cancel_link(slow, the_link(slow.engine).reference, agent="beto")
    thread.join(timeout=15)

    assert "HTTP 404" in str(out.get("error"))
    link = the_link(slow.engine)  # not deleted by the failed call
    assert link.state == LinkState.CANCELLED.value and link.cancelled_by == "beto"
    assert get_receipt(slow.engine, "R-1").hidden_until is None
