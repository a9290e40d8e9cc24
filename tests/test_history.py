import json
from datetime import timedelta
from decimal import Decimal

from paylink_tui.backend.local import LocalBackend
from paylink_tui.cli.history_cmd import history_data
from paylink_tui.config import Settings
from paylink_tui.domain.validity import link_window
from paylink_tui.services.context import AppContext
from paylink_tui.services.history import link_detail, list_links, summary
from paylink_tui.store.db import write_session
from paylink_tui.store.models import LinkReceipt, Notification, PaymentAttempt, PaymentLink, Receipt
from tests.helpers import seed


def make_ctx(engine, clock, agent="ana"):
    return AppContext(settings=Settings(database_url="sqlite:///unused.db", agent=agent), engine=engine,
                      clock=clock)


def add_link(engine, receipt_ids, *, reference, created_at, state="active", agent="ana", **extra):
    window = link_window(created_at, "America/Mexico_City")
    with write_session(engine) as s:
        recs = [s.get(Receipt, rid) for rid in receipt_ids]
        link = PaymentLink(
            reference=reference, url=f"https://sandbox/i/{reference}", policy_id=recs[0].policy_id,
            amount=sum((r.amount for r in recs), Decimal("0")), currency=recs[0].currency,
            email="cliente@example.com", agent=agent, state=state, created_at=created_at,
            last_valid_day=window.last_valid_day, expires_at=window.expires_at,
            hidden_until=window.hidden_until, updated_at=created_at, **extra,
        )
        s.add(link)
        s.flush()
        for r in recs:
            s.add(LinkReceipt(link_id=link.id, receipt_id=r.id, amount=r.amount))
            r.hidden_until = window.hidden_until
        return link.id


def test_links_show_their_status_from_the_clock(engine, clock):
    ids = seed(engine, [dict(policy="P-1", receipt="R-1"), dict(policy="P-2", receipt="R-2"),
                        dict(policy="P-3", receipt="R-3")])
    add_link(engine, [ids[0]], reference="P-1-A", created_at=clock() - timedelta(days=10))
    add_link(engine, [ids[1]], reference="P-2-A", created_at=clock(), agent="beto")
    add_link(engine, [ids[2]], reference="P-3-A", created_at=clock() - timedelta(hours=1), state="paid",
             authorization="426426", folio="F1", paid_at=clock())
    ctx = make_ctx(engine, clock)
    rows = list_links(ctx)
    assert [(r.reference, r.status) for r in rows] == [
        ("P-2-A", "active"), ("P-3-A", "paid"), ("P-1-A", "expired")]
    assert [r.reference for r in list_links(ctx, status="expired")] == ["P-1-A"]
    assert [r.reference for r in list_links(ctx, mine=True)] == ["P-3-A", "P-1-A"]
    assert rows[1].authorization == "426426"


def test_history_json_has_the_documented_shape(engine, clock):
    ids = seed(engine, [dict(policy="P-1", receipt="R-1", amount="75.17")])
    link_id = add_link(engine, ids, reference="P-1-A", created_at=clock())
    with write_session(engine) as s:
        n = Notification(folio="9", reference="P-1-A", response="denied", amount=Decimal("75.17"),
                         raw_xml="<x/>", received_at=clock(), status="applied", link_id=link_id)
        s.add(n)
        s.flush()
        s.add(PaymentAttempt(link_id=link_id, notification_id=n.id, result="denied", cd_error="11",
                             nb_error="Tarjeta declinada", created_at=clock()))
        s.add(Notification(folio="10", reference="NOPE", response="approved", amount=Decimal("1.00"),
                           raw_xml="<x/>", received_at=clock(), status="review",
                           review_reason="unknown_reference"))
    data = json.loads(json.dumps(history_data(LocalBackend(make_ctx(engine, clock)))))
    assert set(data) == {"links", "review"}
    link = data["links"][0]
    assert link["amount"] == "75.17" and link["currency"] == "MXN"
    assert link["created_at"] == "2021-10-07T16:04:56-05:00"
    assert link["valid_until"] == "2021-10-10"
    assert link["last_attempt"]["result"] == "denied"
    assert data["review"][0]["reason"] == "unknown_reference"
    assert data["review"][0]["amount"] == "1.00"


def test_link_detail_tells_its_story_in_order(engine, clock):
    ids = seed(engine, [dict(policy="P-1", receipt="R-1"), dict(policy="P-1", receipt="R-2")])
    add_link(engine, ids, reference="P-1-A", created_at=clock())
    detail = link_detail(make_ctx(engine, clock), "P-1-A")
    assert [r[0] for r in detail.receipts] == ["R-1", "R-2"]
    assert detail.link.amount == Decimal("150.34")
    assert detail.timeline[0].text.startswith("Liga generada por ana")


def test_summary_counts_today_week_and_share_paid(engine, clock):
    ids = seed(engine, [dict(policy=f"P-{i}", receipt=f"R-{i}") for i in range(3)])
    add_link(engine, [ids[0]], reference="A", created_at=clock())
    add_link(engine, [ids[1]], reference="B", created_at=clock() - timedelta(days=2), state="paid",
             paid_at=clock())
    add_link(engine, [ids[2]], reference="C", created_at=clock() - timedelta(days=20))
    s = summary(make_ctx(engine, clock))
    assert s.sent_today == 1
    assert s.daily_sent[-1] == 1 and s.daily_sent[-3] == 1 and sum(s.daily_sent) == 2
    assert s.paid_share == 1 / 3
    assert s.collected == {"MXN": Decimal("75.17")}


def test_history_csv_lists_links_and_the_notifications_kept_for_review(engine, clock, capsys, monkeypatch):
    import argparse
    import csv
    import io

    import paylink_tui.cli.common as common
    from paylink_tui.cli import history_cmd

    ids = seed(engine, [dict(policy="P-1", receipt="R-1", first="=cmd|' /C calc'!A0")])
    add_link(engine, ids, reference="P-1-A", created_at=clock())
    with write_session(engine) as s:
        s.add(Notification(folio="10", reference="NOPE", response="approved", amount=Decimal("1.00"),
                           raw_xml="<x/>", received_at=clock(), status="review",
                           review_reason="unknown_reference"))
    monkeypatch.setattr(common, "backend_or_exit", lambda *a, **k: LocalBackend(make_ctx(engine, clock)))
    assert history_cmd.run(argparse.Namespace(format="csv")) == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert rows[0][0] == "tipo" and rows[1][0] == "liga" and rows[2][0] == "por_revisar"
    assert rows[1][1] == "P-1-A" and rows[1][4].startswith("'=")
    assert rows[2][1] == "NOPE" and "Referencia desconocida" in rows[2][8] and rows[2][-2] == "10"
