"""The plan a client paid with (MIT's `promocion`) carried to the link: history (JSON, CSV, the
detail), the confirmation email. The whole loop on real parts on both engines: the sandbox
playing MIT with a contract, our receiver, a loopback SMTP server."""

from __future__ import annotations

import argparse
import csv
import io
import json
from pathlib import Path

import httpx
import pytest

import paylink_tui.cli.common as common
from paylink_tui.backend.local import LocalBackend
from paylink_tui.cli import history_cmd
from paylink_tui.cli.history_cmd import history_data
from paylink_tui.domain.promotions import parse_promotions
from paylink_tui.services import notifications as svc
from paylink_tui.services.history import link_detail, list_links
from paylink_tui.services.links import generate_link
from tests.helpers import seed
from tests.notifications.support import (
    CARD_FORM,
    confirmations,
    link_row,
    make_link,
    notification_xml,
    pay_on_sandbox,
    read_eml,
    receiver_and_sandbox,
    str_response,
    wait_for,
)

CONTRACT = "3:300,6:600,9:900,12:1200"


def receive(ctx, xml: str) -> svc.Received:
    return svc.receive_notification(ctx, str_response(xml), deliver=False)


# -- the notification's promocion on the link --------------------------------------------------


@pytest.mark.parametrize(("promocion", "months"), [
    ("6", 6), ("12", 12), ("C", None), (None, None), ("MSI", None), ("", None)])
def test_the_plan_the_client_chose_is_the_links(ctx, promocion, months):
    link = make_link(ctx, amounts=("1000.00",))
    got = receive(ctx, notification_xml(link.reference, amount="1000.00", promocion=promocion))
    assert got.status == "applied"
    paid = link_row(ctx, link.reference)
    assert paid.state == "paid" and paid.installment_months == months
    [row] = list_links(ctx, references=[link.reference])
    assert row.installment_months == months and row.last_attempt.installment_months == months
    data = history_data(LocalBackend(ctx))
    [item] = [x for x in json.loads(json.dumps(data))["links"] if x["reference"] == link.reference]
    assert item["installment_months"] == months  # an integer, or null for a single payment


def test_the_confirmation_says_6_meses_sin_intereses(ctx):
    link = make_link(ctx, amounts=("1000.00",))
    receive(ctx, notification_xml(link.reference, amount="1000.00", promocion="6"))
    [mail] = confirmations(ctx)
    assert "Forma de pago: 6 meses sin intereses\n" in mail.body_text
    assert "6 meses sin intereses</td>" in mail.body_html


def test_a_single_payment_confirmation_says_nothing_about_months(ctx):
    link = make_link(ctx, amounts=("1000.00",))
    receive(ctx, notification_xml(link.reference, amount="1000.00", promocion="C"))
    [mail] = confirmations(ctx)
    assert "meses" not in mail.body_text and "Forma de pago" not in mail.body_text


def test_a_payment_applied_from_review_carries_its_plan(ctx):
    link = make_link(ctx, amounts=("1000.00",))
    kept = receive(ctx, notification_xml("TYPO-" + link.reference, amount="1000.00",
                                         promocion="3"))
    assert kept.status == "review"
    svc.apply_review(ctx, kept.notification_id, reference=link.reference, agent="ana")
    assert link_row(ctx, link.reference).installment_months == 3
    [mail] = confirmations(ctx)
    assert "Forma de pago: 3 meses sin intereses" in mail.body_text


def test_a_denied_attempt_keeps_the_plan_it_tried_and_the_link_its_none(ctx):
    link = make_link(ctx, amounts=("1000.00",))
    receive(ctx, notification_xml(link.reference, amount="1000.00", response="denied",
                                  promocion="9"))
    assert link_row(ctx, link.reference).installment_months is None
    detail = link_detail(ctx, link.reference)
    [attempt] = detail.attempts
    assert (attempt.result, attempt.installment_months) == ("denied", 9)
    assert "9 meses sin intereses" in detail.timeline[-1].text


def test_history_csv_has_the_months_column(ctx, capsys, monkeypatch):
    paid = make_link(ctx, amounts=("1000.00",))
    make_link(ctx, amounts=("500.00",))
    receive(ctx, notification_xml(paid.reference, amount="1000.00", promocion="12"))
    receive(ctx, notification_xml("NOPE", amount="5.00", promocion="3"))  # kept for review
    monkeypatch.setattr(common, "backend_or_exit", lambda *a, **k: LocalBackend(ctx))
    assert history_cmd.run(argparse.Namespace(format="csv")) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    by_reference = {r["referencia"]: r for r in rows}
    assert by_reference[paid.reference]["meses_sin_intereses"] == "12"
    assert [r["meses_sin_intereses"] for r in rows if r["referencia"] != paid.reference] == ["", ""]
    review = by_reference["NOPE"]
    assert (review["tipo"], review["folio"]) == ("por_revisar", review["folio"])
    assert review["autorizacion"] == "426426" and review["generada"]  # columns did not shift

    monkeypatch.setenv("COLUMNS", "220")  # one line per link
    assert history_cmd.run(argparse.Namespace(format="table")) == 0
    assert "│ Pagada, 12 meses sin intereses │" in capsys.readouterr().out


# -- the whole loop --------------------------------------------------------------------------


@pytest.fixture
def loop(database_url: str, tmp_path: Path):
    """The receiver and the sandbox (contract CONTRACT, the same as our setting) in one
    server; mail to a loopback SMTP server."""
    plans = parse_promotions(CONTRACT)
    with receiver_and_sandbox(database_url, tmp_path / "correos", mit_promotions=CONTRACT,
                              sandbox_kwargs={"promotions": plans}) as running:
        yield running


def test_paid_at_6_meses_from_the_page_to_the_history_and_the_confirmation(loop):
    ctx, server, mailbox = loop
    seed(ctx.engine, [dict(policy="GM-1", receipt="R-1", amount="1800.00")])
    link = generate_link(ctx, receipt_numbers=["R-1"], email="cliente@example.com")
    assert link.installment_plans == (3, 6, 9, 12)
    [link_mail] = mailbox.parsed()
    assert "3, 6, 9 o 12 meses sin intereses" in link_mail.get_body(("plain",)).get_content()

    page = httpx.get(link.url).text
    assert 'value="6"' in page and "6 meses sin intereses" in page
    result = pay_on_sandbox(link.url, {**CARD_FORM, "promocion": "6"})
    assert "Aprobado" in result.text
    assert server.app.state.sandbox.wait_idle_sync(15)

    [row] = wait_for(lambda: [r for r in list_links(ctx, references=[link.reference])
                              if r.status == "paid"])
    assert (row.installment_months, row.installment_plans) == (6, (3, 6, 9, 12))
    [item] = history_data(LocalBackend(ctx))["links"]
    assert (item["installment_months"], item["installment_plans"]) == (6, [3, 6, 9, 12])
    assert item["payment"]["authorization"] == row.authorization

    messages = wait_for(lambda: len(mailbox.messages()) >= 2 and mailbox.messages())
    confirmation = read_eml(messages[-1])
    assert "Pago aprobado" in confirmation["Subject"]
    assert "Forma de pago: 6 meses sin intereses" in confirmation.get_body(
        ("plain",)).get_content()


def test_error_08_from_mit_is_an_attempt_and_the_link_stays_active(loop):
    """Our table says 12 months from $1,200; MIT's contract (the sandbox's, here lower than
    what we were told) says otherwise: MIT answers 08, recorded in the link's history."""
    ctx, server, _ = loop
    sandbox = server.app.state.sandbox
    sandbox.promotions[12] = sandbox.promotions[12] * 10  # MIT's real minimum: $12,000
    seed(ctx.engine, [dict(policy="GM-1", receipt="R-1", amount="1800.00")])
    link = generate_link(ctx, receipt_numbers=["R-1"], email="cliente@example.com")
    result = pay_on_sandbox(link.url, {**CARD_FORM, "promocion": "12"})
    assert "menor al permitido" in result.text
    assert sandbox.wait_idle_sync(15)
    [row] = wait_for(lambda: [r for r in list_links(ctx, references=[link.reference])
                              if r.last_attempt is not None])
    assert row.status == "active" and row.installment_months is None
    assert (row.last_attempt.result, row.last_attempt.cd_error,
            row.last_attempt.installment_months) == ("error", "08", 12)
