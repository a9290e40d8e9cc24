"""`paylink-tui history`: every link with its status, and the notifications kept for review."""

from __future__ import annotations

import argparse
from datetime import datetime
from typing import Any

from paylink_tui.cli.common import add_format_argument


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("history", help="todas las ligas con su estado y lo que está por revisar",
                       description="Cada liga enviada con su estado (Activa, Pagada, Vencida, "
                                   "Cancelada), su correo y su último intento de pago; y las "
                                   "notificaciones por revisar.")
    add_format_argument(p)
    p.set_defaults(handler=run)


def iso(dt: datetime | None, tz: str) -> str | None:
    if dt is None:
        return None
    from paylink_tui.domain.dates import to_local

    return to_local(dt, tz).isoformat()


def history_data(backend) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    tz = backend.identity().timezone
    links = []
    for row in backend.list_links(limit=None):
        item: dict[str, Any] = {
            "reference": row.reference,
            "url": row.url,
            "policy": row.policy,
            "receipts": row.receipts,
            "holder": row.holder,
            "email": row.email,
            "amount": str(row.amount),
            "currency": row.currency,
            "agent": row.agent,
            "created_at": iso(row.created_at, tz),
            "valid_until": row.valid_through.isoformat(),
            "status": row.status,
            "email_status": row.email_status,
            "last_attempt": None,
            "payment": None,
            "review_count": row.review_count,
            # A payment of an older link for these receipts, por revisar: this one may be
            # charged too (the references of those older links).
            "flagged_by": [flag.older_reference for flag in row.flags],
            # Meses sin intereses: the months the link offers besides the single payment,
            # and the plan it was paid with (null: a single payment, or not paid).
            "installment_plans": list(row.installment_plans),
            "installment_months": row.installment_months,
            # The reminders emailed for it (the proof of contact): when the mail server took
            # each (null: not sent), to whom, and sent | queued | failed | not_sent.
            "reminders": [
                {"sent_at": iso(r.sent_at, tz), "to": r.to, "status": r.status,
                 "queued_at": iso(r.queued_at, tz)}
                for r in row.reminders
            ],
            "reminders_off": row.reminders_off,
        }
        if row.last_attempt is not None:
            a = row.last_attempt
            item["last_attempt"] = {
                "result": a.result, "cd_error": a.cd_error, "nb_error": a.nb_error,
                "taken_at": iso(a.taken_at, tz), "installment_months": a.installment_months,
            }
        if row.status == "paid":
            item["payment"] = {
                "authorization": row.authorization, "folio": row.folio,
                "paid_at": iso(row.paid_at, tz), "card_type": row.card_type,
                "card_mask": row.card_mask,
                # What MIT charged: the link's amount unless applied by hand with another.
                "amount": str(row.paid_amount if row.paid_amount is not None else row.amount),
            }
        links.append(item)
    review = [
        {
            "id": n.id, "reference": n.reference, "folio": n.folio, "response": n.response,
            "amount": None if n.amount is None else str(n.amount),
            "authorization": n.authorization, "taken_at": iso(n.taken_at, tz),
            "received_at": iso(n.received_at, tz), "reason": n.reason,
        }
        for n in _review_items(backend)
    ]
    return {"links": links, "review": review}


def _review_items(backend):  # type: ignore[no-untyped-def]
    """The review queue, when the user may see it (team mode: supervisors; an agent's history
    is their links alone)."""
    from paylink_tui.domain.errors import Forbidden

    try:
        return backend.list_review()
    except Forbidden:
        return []


def run(args: argparse.Namespace) -> int:
    from paylink_tui.cli.common import backend_or_exit, print_table, write_csv, write_json
    from paylink_tui.domain import labels
    from paylink_tui.domain.money import format_money
    from paylink_tui.domain.promotions import months_text
    from paylink_tui.domain.status import EmailStatus, LinkStatus, ReviewReason

    data = history_data(backend_or_exit())
    if args.format == "json":
        write_json(data)
        return 0
    headers = ["referencia", "poliza", "recibos", "contratante", "email", "monto", "moneda", "estado",
               "correo", "autorizacion", "fecha_pago", "meses_sin_intereses", "agente", "generada",
               "vigente_hasta", "url"]
    rows = [
        [x["reference"], x["policy"], " ".join(x["receipts"]), x["holder"], x["email"], x["amount"],
         x["currency"], labels.LINK[LinkStatus(x["status"])],
         labels.EMAIL[EmailStatus(x["email_status"])] if x["email_status"] else "",
         (x["payment"] or {}).get("authorization") or "", (x["payment"] or {}).get("paid_at") or "",
         x["installment_months"] or "", x["agent"], x["created_at"], x["valid_until"], x["url"] or ""]
        for x in data["links"]
    ]
    if args.format == "csv":
        # One table for a spreadsheet: the links, then the notifications kept for review.
        def reason(n: dict[str, Any]) -> str:
            why = labels.REVIEW_REASON[ReviewReason(n["reason"])] if n["reason"] else "sin aplicar"
            return f"Por revisar: {why}"

        review_rows = [
            ["por_revisar", n["reference"] or "", "", "", "", "", n["amount"] or "", "", reason(n),
             "", n["authorization"] or "", n["taken_at"] or "", "", "", n["received_at"], "", "",
             n["folio"] or "", n["id"]]
            for n in data["review"]
        ]
        write_csv(["tipo", *headers, "folio", "id_revision"],
                  [["liga", *r, (x["payment"] or {}).get("folio") or "", ""]
                   for x, r in zip(data["links"], rows, strict=True)] + review_rows)
        return 0
    from decimal import Decimal

    print_table(
        ["Referencia", "Póliza", "Contratante", "Monto", "Estado", "Correo", "Autorización", "Vigente hasta"],
        [[x["reference"], x["policy"], x["holder"], format_money(Decimal(x["amount"]), x["currency"]),
          r[7] + (f", {months_text(x['installment_months'])}" if x["installment_months"] else ""),
          r[8], r[9], x["valid_until"]] for x, r in zip(data["links"], rows, strict=True)],
        title=f"Ligas: {len(rows)}",
    )
    if data["review"]:
        print_table(
            ["ID", "Referencia", "Folio", "Monto", "Motivo"],
            [[n["id"], n["reference"] or "", n["folio"] or "", n["amount"] or "",
              labels.REVIEW_REASON[ReviewReason(n["reason"])] if n["reason"] else ""]
             for n in data["review"]],
            title="Por revisar",
        )
    return 0
