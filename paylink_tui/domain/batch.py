"""The result types of "many links at once" (domain.md, "Collecting more"): the plan shown
before anything is made, the progress while it runs, and what it made, skipped and failed.

Pure data (re-exported by domain/results.py): the team-mode API sends these as JSON.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from paylink_tui.domain.money import format_money
from paylink_tui.domain.text import plural

# Why a receipt is left out of the batch (labels in domain/labels.py).
SKIP_NO_EMAIL = "no_email"
SKIP_ALREADY_LINKED = "already_linked"
SKIP_NOT_PENDING = "not_pending"
SKIP_NOT_FOUND = "not_found"

# One link's outcome.
MADE = "made"
SKIPPED = "skipped"
FAILED = "failed"
UNCONFIRMED = "unconfirmed"  # MIT's answer was lost: the link waits for a retry


@dataclass(frozen=True)
class BatchLink:
    """One link the batch will make: all the pending receipts of a policy in one currency."""

    policy: str
    currency: str
    holder: str
    email: str  # on file
    receipts: tuple[str, ...]  # oldest first
    amount: Decimal

    @property
    def amount_text(self) -> str:
        return format_money(self.amount, self.currency)


@dataclass(frozen=True)
class BatchSkip:
    """A receipt the batch leaves out, and why."""

    receipt: str
    policy: str
    holder: str
    reason: str  # SKIP_* code
    detail: str  # Spanish: what the agent reads


def _amounts(links: tuple[BatchLink, ...] | list[BatchLink]) -> dict[str, Decimal]:
    totals: dict[str, Decimal] = {}
    for link in links:
        totals[link.currency] = totals.get(link.currency, Decimal("0.00")) + link.amount
    return dict(sorted(totals.items()))


def amounts_text(amounts: dict[str, Decimal]) -> str:
    """`$ 1,234.56 MXN y $ 100.00 USD`."""
    parts = [format_money(value, currency) for currency, value in amounts.items()]
    if not parts:
        return format_money(Decimal("0.00"), "MXN")
    return " y ".join(parts)


@dataclass(frozen=True)
class BatchPlan:
    """What a batch would do, shown before it runs; `run_batch` takes it as confirmed."""

    links: tuple[BatchLink, ...]
    skipped: tuple[BatchSkip, ...]

    @property
    def clients(self) -> int:
        """How many clients receive a link: one holder per policy, never merged by name."""
        return len({link.policy for link in self.links})

    @property
    def receipts(self) -> int:
        return sum(len(link.receipts) for link in self.links)

    @property
    def amounts(self) -> dict[str, Decimal]:
        return _amounts(self.links)

    def skipped_by_reason(self) -> dict[str, list[BatchSkip]]:
        out: dict[str, list[BatchSkip]] = {}
        for skip in self.skipped:
            out.setdefault(skip.reason, []).append(skip)
        return out

    @property
    def summary(self) -> str:
        """One Spanish sentence: how many links, to how many clients, for how much."""
        if not self.links:
            return "No hay ligas que generar."
        return (f"Se generarán {plural(len(self.links), 'liga', 'ligas')} para "
                f"{plural(self.receipts, 'recibo', 'recibos')} de "
                f"{plural(self.clients, 'cliente', 'clientes')}, por "
                f"{amounts_text(self.amounts)}; cada una al correo registrado.")


@dataclass(frozen=True)
class BatchResult:
    """What became of one planned link."""

    policy: str
    currency: str
    receipts: tuple[str, ...]
    outcome: str  # MADE | SKIPPED | FAILED | UNCONFIRMED
    reference: str | None = None
    email: str | None = None
    amount: Decimal | None = None
    email_status: str | None = None  # of a made link: sent | queued | failed
    message: str | None = None  # Spanish: why it was skipped or failed


@dataclass(frozen=True)
class BatchProgress:
    """Where a running batch is: after each link (made, skipped or failed)."""

    done: int
    total: int
    made: int
    skipped: int
    failed: int
    last: BatchResult | None = None


@dataclass(frozen=True)
class BatchOutcome:
    made: tuple[BatchResult, ...]
    skipped: tuple[BatchResult, ...]  # found linked or paid when their turn came
    failed: tuple[BatchResult, ...]  # UNCONFIRMED ones included
    plan_skipped: tuple[BatchSkip, ...] = ()  # left out by the plan already
    stopped: bool = False  # the agent stopped it: `not_run` were not tried
    not_run: tuple[BatchLink, ...] = field(default_factory=tuple)

    @property
    def amounts(self) -> dict[str, Decimal]:
        totals: dict[str, Decimal] = {}
        for r in self.made:
            if r.amount is not None:
                totals[r.currency] = totals.get(r.currency, Decimal("0.00")) + r.amount
        return dict(sorted(totals.items()))

    @property
    def unconfirmed(self) -> tuple[BatchResult, ...]:
        return tuple(r for r in self.failed if r.outcome == UNCONFIRMED)
