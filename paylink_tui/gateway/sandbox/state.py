"""The sandbox's memory: links, payments, and the notification deliveries in flight.

Everything lives in one process; handlers run on the event loop, while tests (often on
another thread) wait for deliveries through `wait_idle_sync`."""

from __future__ import annotations

import asyncio
import logging
import secrets
import string
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

import httpx

log = logging.getLogger(__name__)

_ID_ALPHABET = string.ascii_uppercase + string.digits


@dataclass
class Payment:
    folio: str
    response: str
    auth: str
    cd_response: str
    cd_error: str
    nb_error: str
    date: str  # dd/mm/yy, insurer zone
    time: str  # HH:MM:SS
    cc_mask: str
    cc_number: str  # last 4
    cc_type: str
    cc_name: str
    email: str
    promocion: str = "C"  # the way to pay the payer chose: C or the months


@dataclass
class SandboxLink:
    id: str
    reference: str
    amount: Decimal
    currency: str
    valid_through: date
    email: str
    extra: tuple[tuple[str, str], ...]
    created_at: datetime
    payments: list[Payment] = field(default_factory=list)
    plans: tuple[int, ...] = ()  # meses sin intereses offered besides the single payment

    @property
    def approved(self) -> Payment | None:
        return next((p for p in self.payments if p.response == "approved"), None)


@dataclass
class Delivery:
    reference: str
    folio: str
    response: str
    attempts: int = 0
    status_code: int | None = None
    delivered: bool = False
    gave_up: bool = False


class SandboxState:
    def __init__(
        self,
        *,
        notify_url: str | None,
        retry_delays: tuple[float, ...],
        now: Callable[[], datetime],
    ) -> None:
        self.notify_url = notify_url
        self.retry_delays = tuple(retry_delays)
        self.now = now
        self.links: dict[str, SandboxLink] = {}
        self.by_reference: dict[str, SandboxLink] = {}
        self.deliveries: list[Delivery] = []
        self._folios: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._pending = 0
        self._cond = threading.Condition()
        self._client: httpx.AsyncClient | None = None

    # -- ids -------------------------------------------------------------------------

    def new_link_id(self) -> str:
        while True:
            candidate = "".join(secrets.choice(_ID_ALPHABET) for _ in range(8))
            if candidate not in self.links:
                return candidate

    def new_folio(self) -> str:
        # 6 to 8 digits: MIT's transaction query lists operation numbers zero-padded to 9,
        # so every sandbox folio exercises the comparison without leading zeros.
        while True:
            candidate = str(100_000 + secrets.randbelow(99_900_000))
            if candidate not in self._folios:
                self._folios.add(candidate)
                return candidate

    @staticmethod
    def new_auth() -> str:
        return f"{secrets.randbelow(1_000_000):06d}"

    # -- notification delivery ---------------------------------------------------------

    def deliver(self, delivery: Delivery, str_response: str) -> None:
        """Post the notification in the background (call from the event loop)."""
        self.deliveries.append(delivery)
        if not self.notify_url:
            log.info("sandbox: no notify URL, notification %s kept only", delivery.folio)
            return
        with self._cond:
            self._pending += 1
        task = asyncio.get_running_loop().create_task(self._post(delivery, str_response))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _post(self, delivery: Delivery, str_response: str) -> None:
        assert self.notify_url is not None
        try:
            if self._client is None:
                self._client = httpx.AsyncClient(timeout=httpx.Timeout(10.0, connect=5.0))
            delays = (0.0, *self.retry_delays)
            for delay in delays:
                if delay:
                    await asyncio.sleep(delay)
                delivery.attempts += 1
                try:
                    resp = await self._client.post(
                        self.notify_url, data={"strResponse": str_response}
                    )
                except httpx.HTTPError:
                    delivery.status_code = None
                    continue
                delivery.status_code = resp.status_code
                if resp.status_code < 500:
                    # 2xx is delivered; a 4xx means the receiver refuses it for good.
                    delivery.delivered = resp.status_code < 300
                    delivery.gave_up = not delivery.delivered
                    break
            else:
                delivery.gave_up = True
            log.info(
                "sandbox: notification %s for %s: %s after %d attempt(s)",
                delivery.folio, delivery.reference,
                "delivered" if delivery.delivered else "not delivered", delivery.attempts,
            )
        finally:
            with self._cond:
                self._pending -= 1
                self._cond.notify_all()

    @property
    def pending_deliveries(self) -> int:
        with self._cond:
            return self._pending

    def wait_idle_sync(self, timeout: float = 10.0) -> bool:
        """Block (from any thread but the server's) until no delivery is in flight."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._pending:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True

    async def wait_idle(self, timeout: float = 10.0) -> bool:
        """Await, on the server's loop, until no delivery is in flight."""
        deadline = time.monotonic() + timeout
        while self.pending_deliveries:
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(0.02)
        return True

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._client is not None:
            await self._client.aclose()
            self._client = None
