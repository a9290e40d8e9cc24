"""The API answers what the local backend answers for the same user: each call made through
backend/routes.py's table and read back with the codec equals the in-process result. Plus
the calls that are not plain JSON: the import upload and the batch's NDJSON progress."""

from __future__ import annotations

import json
from typing import Any

from paylink_tui.backend.base import Backend
from paylink_tui.backend.codec import from_json, hints
from paylink_tui.backend.local import LocalBackend
from paylink_tui.backend.routes import IMPORT_MAX_BODY, MAX_BODY, ROUTES, encode_call
from paylink_tui.domain.results import BatchOutcome, BatchProgress, ImportReport
from tests.api.conftest import Team


def _call(team: Team, user: str, name: str, **kwargs: Any) -> Any:
    route = ROUTES[name]
    path, query, body = encode_call(route, kwargs)
    got = team.as_user(user).request(route.method, path, params=query, json=body)
    assert got.status_code in (200, 404), got.text
    if got.status_code == 404 and route.none_404:
        return None
    return from_json(hints(getattr(Backend, name))["return"], got.json())


def test_each_call_answers_what_the_local_backend_answers(team: Team) -> None:
    made = team.as_user("ana").post("/api/v1/ligas", json={"receipt_numbers": ["PA-100-1"],
                                                            "email": "c@example.com"})
    reference = made.json()["reference"]
    ana = team.state.ctx.for_principal(_call(team, "ana", "identity"))
    local = LocalBackend(ana)
    page = local.pending_page(limit=2)
    calls: list[tuple[str, dict[str, Any]]] = [
        ("identity", {}),
        ("pending_page", {"limit": 2}),
        ("pending_page", {"after": page.last_key, "limit": 2}),
        ("pending_totals", {"search": "PA"}),
        ("off_list", {"search": "PA-100-1"}),
        ("receipt_detail", {"receipt_id": team.receipt_id("PA-100-2")}),
        ("receipt_detail", {"receipt_id": 999_999}),
        ("link_preview", {"receipt_numbers": ["PA-200-1"]}),
        ("list_links", {"limit": None}),
        ("link_detail", {"reference": reference}),
        ("link_detail", {"reference": "NO-EXISTE"}),
        ("summary", {}),
        ("batch_preview", {"search": "PA"}),
        ("events", {"cursor": "0"}),
    ]
    for name, kwargs in calls:
        remote = _call(team, "ana", name, **kwargs)
        assert remote == getattr(local, name)(**kwargs), name
    assert _call(team, "sofia", "list_review") == []


def test_a_batch_streams_its_progress_and_then_its_outcome(team: Team) -> None:
    ana = team.as_user("ana")
    plan = ana.post("/api/v1/lotes/vista-previa", json={"search": "PA"})
    assert plan.status_code == 200 and len(plan.json()["links"]) == 2
    with ana.stream("POST", "/api/v1/lotes", json={"plan": plan.json()}) as got:
        assert got.status_code == 200
        assert got.headers["content-type"].startswith("application/x-ndjson")
        lines = [json.loads(line) for line in got.iter_lines() if line]
    assert isinstance(lines[0]["batch"], int)  # what stops it: POST /lotes/{batch}/detencion
    progress = [from_json(BatchProgress, line["progress"]) for line in lines[1:-1]]
    outcome = from_json(BatchOutcome, lines[-1]["outcome"])
    assert [p.done for p in progress] == [1, 2] and progress[-1].made == 2
    assert len(outcome.made) == 2 and not outcome.failed
    assert team.gen.calls == 2


def test_an_import_file_travels_as_the_body_beyond_the_json_limit(team: Team) -> None:
    header = "poliza,recibo,ramo,nombre,apellido_paterno,apellido_materno,email,monto,moneda,vencimiento\n"
    rows = [f"PN-{i:06d},PN-{i:06d}-1,Autos,Rosa,Peña,Ibáñez,rosa{i}@example.com,100.00,MXN,"
            f"15/10/2021\n" for i in range(12_000)]
    body = (header + "".join(rows)).encode("utf-8")
    assert MAX_BODY < len(body) < IMPORT_MAX_BODY
    admin = team.as_user("admin")
    got = admin.post("/api/v1/importacion", params={"filename": "../../etc/recibos.csv"},
                     content=body)
    assert got.status_code == 200, got.text
    report = from_json(ImportReport, got.json())
    assert report.added == 12_000 and report.filename == "recibos.csv"
    assert team.as_user("ana").post("/api/v1/importacion", content=body).status_code == 403
