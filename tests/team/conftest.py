"""Fixtures for team mode's data half: the links tests' sandbox and contexts, and portfolios
made through the real import (column `agente`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from paylink_tui.domain.results import ALL_CODES, Identity
from paylink_tui.services.context import AppContext
from tests.links.conftest import (  # noqa: F401 - fixtures
    GenCounter,
    SandboxServer,
    make_ctx,
    sandbox,
)

HEADER = "poliza,recibo,ramo,nombre,apellido_paterno,apellido_materno,email,telefono,monto,moneda,vencimiento,agente"


def csv_rows(rows: Sequence[tuple[str, str, str | None]], *, email: str = "cliente@example.com",
             first: str = "Rosa", last: str = "Peña") -> str:
    """(policy, receipt, agent code or None) each; every receipt 75.17 MXN due 15/10/2021."""
    lines = [HEADER]
    for policy, receipt, code in rows:
        lines.append(f"{policy},{receipt},Autos,{first},{last},Gómez,{email},,75.17,MXN,"
                     f"15/10/2021,{code or ''}")
    return "\n".join(lines) + "\n"


@pytest.fixture
def import_portfolio(tmp_path: Path) -> Callable[..., object]:
    """import_portfolio(ctx, [(policy, receipt, code), ...]) through the import use case."""
    count = [0]

    def _import(ctx: AppContext, rows, **kwargs):  # type: ignore[no-untyped-def]
        from paylink_tui.services.importing import import_file

        count[0] += 1
        path = tmp_path / f"cartera{count[0]}.csv"
        path.write_text(csv_rows(rows, **kwargs), encoding="utf-8")
        report = import_file(ctx, path)
        assert not report.errors, report.errors
        return report

    return _import


def agent(name: str, *codes: str) -> Identity:
    return Identity(user=name, role="agente", codes=tuple(codes))


def supervisor(name: str = "sara") -> Identity:
    return Identity(user=name, role="supervisor", codes=(ALL_CODES,))
