"""Meses sin intereses when a link is made: what it offers by default, the agent's choice, the
refusals before MIT is called, the retry of an unconfirmed link, the email and `link --msi`.
The sandbox over HTTP plays MIT with the same contract; SMTP to a MailDrop; both engines."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlmodel import Session, select

from paylink_tui.cli import main
from paylink_tui.domain.errors import OutcomeUnknown, PlanRefused
from paylink_tui.services.links import generate_link, retry_link
from paylink_tui.store.db import make_engine
from paylink_tui.store.models import PaymentLink
from tests.links.conftest import MSI_CONTRACT


def stored(engine) -> list[PaymentLink]:
    with Session(engine) as s:
        return list(s.exec(select(PaymentLink)).all())


@pytest.fixture
def msi_ctx(make_ctx, msi_sandbox):
    return make_ctx(mit_gen_url=msi_sandbox.gen_url, mit_promotions=MSI_CONTRACT)


def test_a_link_offers_every_plan_its_amount_reaches(msi_ctx, msi_sandbox, seed, clock, mailbox):
    seed(msi_ctx.engine, "P-1", [("R-1", "500.00", "MXN"), ("R-2", "450.00", "MXN")], now=clock())

    made = generate_link(msi_ctx, policy_number="P-1", email="cliente@example.com")

    # $950.00 reaches 3 ($300), 6 ($600) and 9 ($900), not 12 ($1,200).
    assert made.installment_plans == (3, 6, 9)
    assert msi_sandbox.sandbox.requests == ["C,3,6,9"]
    assert msi_sandbox.links[0].plans == (3, 6, 9)
    (link,) = stored(msi_ctx.engine)
    assert link.promotions == "C,3,6,9" and link.installment_months is None
    (mail,) = mailbox.parsed()
    text = mail.get_body(("plain",)).get_content()
    assert ("Puede pagar en una sola exhibición o a 3, 6 o 9 meses sin intereses con tarjeta de "
            "crédito.") in text
    html = mail.get_body(("html",)).get_content()
    assert "<strong>3, 6 o 9 meses sin intereses</strong>" in html


def test_the_agent_chooses_fewer_plans_or_none(msi_ctx, msi_sandbox, seed, clock, mailbox):
    seed(msi_ctx.engine, "P-1", [("R-1", "5000.00", "MXN")], now=clock())
    seed(msi_ctx.engine, "P-2", [("R-2", "5000.00", "MXN")], now=clock(),
         holder=("Beto", "Ruiz", ""), email="beto@example.com")

    some = generate_link(msi_ctx, receipt_numbers=["R-1"], email="a@example.com", plans=[12, 3])
    none = generate_link(msi_ctx, receipt_numbers=["R-2"], email="b@example.com", plans=[])

    assert (some.installment_plans, none.installment_plans) == ((3, 12), ())
    assert msi_sandbox.sandbox.requests == ["C,3,12", "C"]
    single, _ = sorted(mailbox.parsed(), key=lambda m: m["To"] != "b@example.com")
    assert "meses sin intereses" not in single.get_body(("plain",)).get_content()


@pytest.mark.parametrize(("plans", "words"), [
    ([3, 12], "el plan de 12 meses sin intereses requiere un monto mínimo de $ 1,200.00 MXN y la "
              "liga es por $ 750.00 MXN"),
    ([18], "el plan de 18 meses sin intereses no está habilitado (PAYLINK_MIT_PROMOTIONS habilita: "
           "3 meses desde $ 300.00 MXN"),
])
def test_a_plan_it_cannot_offer_is_refused_before_mit_is_called(
        msi_ctx, msi_sandbox, seed, clock, get_receipt, mailbox, plans, words):
    seed(msi_ctx.engine, "P-1", [("R-1", "750.00", "MXN")], now=clock())

    with pytest.raises(PlanRefused) as exc:
        generate_link(msi_ctx, receipt_numbers=["R-1"], email="cliente@example.com", plans=plans)

    assert words in exc.value.message
    assert msi_sandbox.counter.calls == 0  # MIT never heard of it
    assert stored(msi_ctx.engine) == [] and get_receipt(msi_ctx.engine, "R-1").hidden_until is None
    assert mailbox.parsed() == []
    # Nothing was left half-made: the same receipt gets its link with a plan it reaches.
    assert generate_link(msi_ctx, receipt_numbers=["R-1"], email="cliente@example.com",
                         plans=[3, 6]).installment_plans == (3, 6)


def test_a_usd_link_is_single_payment_only(msi_ctx, msi_sandbox, seed, clock):
    seed(msi_ctx.engine, "P-1", [("R-1", "9000.00", "USD")], now=clock())
    with pytest.raises(PlanRefused, match="es en USD"):
        generate_link(msi_ctx, receipt_numbers=["R-1"], email="c@example.com", plans=[3])
    assert msi_sandbox.counter.calls == 0
    made = generate_link(msi_ctx, receipt_numbers=["R-1"], email="c@example.com")
    assert made.installment_plans == () and msi_sandbox.sandbox.requests == ["C"]


def test_without_the_setting_every_link_is_single_payment(make_ctx, msi_sandbox, seed, clock):
    ctx = make_ctx(mit_gen_url=msi_sandbox.gen_url)
    seed(ctx.engine, "P-1", [("R-1", "9000.00", "MXN")], now=clock())
    with pytest.raises(PlanRefused, match="no hay planes configurados"):
        generate_link(ctx, receipt_numbers=["R-1"], email="c@example.com", plans=[3])
    assert generate_link(ctx, receipt_numbers=["R-1"], email="c@example.com").installment_plans == ()
    assert msi_sandbox.sandbox.requests == ["C"]


def test_an_unconfirmed_link_is_retried_with_the_plans_it_was_first_sent_with(
        make_ctx, msi_sandbox, seed, clock):
    msi_sandbox.counter.delay_first, msi_sandbox.counter.delay_seconds = 1, 2.0
    ctx = make_ctx(mit_gen_url=msi_sandbox.gen_url, mit_promotions=MSI_CONTRACT, mit_timeout=0.5)
    seed(ctx.engine, "P-1", [("R-1", "1000.00", "MXN")], now=clock())
    with pytest.raises(OutcomeUnknown) as info:
        generate_link(ctx, receipt_numbers=["R-1"], email="c@example.com", plans=[3])

    # Asked again with other plans: MIT may already hold the first request under this same
    # reference, so the retry repeats it exactly instead of promising other plans.
    again = generate_link(ctx, receipt_numbers=["R-1"], email="c@example.com", plans=[3, 6])
    assert again.reference == info.value.reference and again.installment_plans == (3,)
    assert msi_sandbox.sandbox.requests == ["C,3", "C,3"]
    (link,) = stored(ctx.engine)
    assert link.promotions == "C,3"


def test_retry_link_sends_the_stored_plans(make_ctx, msi_sandbox, seed, clock):
    msi_sandbox.counter.delay_first, msi_sandbox.counter.delay_seconds = 1, 2.0
    ctx = make_ctx(mit_gen_url=msi_sandbox.gen_url, mit_promotions=MSI_CONTRACT, mit_timeout=0.5)
    seed(ctx.engine, "P-1", [("R-1", "1000.00", "MXN")], now=clock())
    with pytest.raises(OutcomeUnknown) as info:
        generate_link(ctx, receipt_numbers=["R-1"], email="c@example.com")
    assert retry_link(ctx, info.value.reference).installment_plans == (3, 6, 9)
    assert msi_sandbox.sandbox.requests == ["C,3,6,9", "C,3,6,9"]


def test_the_link_command_takes_msi(database_url, msi_sandbox, seed, clock, mailbox, monkeypatch,
                                    capsys):
    for name, value in {"PAYLINK_DATABASE_URL": database_url, "PAYLINK_AGENT": "ana",
                        "PAYLINK_GATEWAY": "sandbox", "PAYLINK_MIT_GEN_URL": msi_sandbox.gen_url,
                        "PAYLINK_MIT_PROMOTIONS": MSI_CONTRACT, "PAYLINK_SMTP_HOST": "127.0.0.1",
                        "PAYLINK_SMTP_PORT": str(mailbox.port)}.items():
        monkeypatch.setenv(name, value)
    engine = make_engine(database_url)
    try:
        seed(engine, "P-1", [("R-1", "750.00", "MXN")], now=clock())
        seed(engine, "P-2", [("R-2", "750.00", "MXN")], now=clock(), holder=("Beto", "Ruiz", ""))
    finally:
        engine.dispose()

    assert main(["link", "R-1", "--email", "c@example.com", "--msi", "3,12"]) == 1
    out, err = capsys.readouterr()
    assert out == "" and err == (
        "Error: No se generó la liga: el plan de 12 meses sin intereses requiere un monto mínimo "
        "de $ 1,200.00 MXN y la liga es por $ 750.00 MXN.\n")
    assert msi_sandbox.counter.calls == 0

    with pytest.raises(SystemExit) as usage:
        main(["link", "R-1", "--email", "c@example.com", "--msi", "tres"])
    assert usage.value.code == 2
    assert "argumento --msi: «tres» no es un plan: use «no» o los meses" in capsys.readouterr().err

    assert main(["link", "R-1", "--email", "c@example.com"]) == 0
    assert "Forma de pago: una sola exhibición o 3 o 6 meses sin intereses\n" in capsys.readouterr().out
    assert main(["link", "R-2", "--email", "c@example.com", "--msi", "no"]) == 0
    assert "Forma de pago: una sola exhibición\n" in capsys.readouterr().out
    assert msi_sandbox.sandbox.requests == ["C,3,6", "C"]


def test_the_amount_is_exact_at_the_minimum(msi_ctx, msi_sandbox, seed, clock):
    seed(msi_ctx.engine, "P-1", [("R-1", "1199.99", "MXN"), ("R-2", "0.01", "MXN")], now=clock())
    made = generate_link(msi_ctx, policy_number="P-1", email="c@example.com")
    assert made.amount == Decimal("1200.00") and made.installment_plans == (3, 6, 9, 12)
