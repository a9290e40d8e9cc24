"""What stands between the internet and the notification receiver's decryption.

MIT's notifications are AES-CBC without a MAC: the key is their only authentication, so a
sender who can tell one failure from another (bad padding, bad text, bad XML) has a padding
oracle, and with some 61,000 tries forges a payment (issue 11). The receiver answers every
refusal alike (web/receiver.py); this module limits how often one sender may try at all:

- `NotificationGuard.allowed`: an optional allow-list of MIT's source addresses
  (PAYLINK_MIT_ALLOWED_IPS); anyone else is refused before the body is read;
- `NotificationGuard.attempt`: failed decryptions are counted per source (an IPv4 address,
  or an IPv6 /64, which one subscriber usually holds whole) in a sliding window; over
  PAYLINK_NOTIFY_MAX_FAILURES the source is answered 429 without decrypting anything until
  its oldest failure leaves the window, and the log says loudly that an attack may be under
  way. A source with no failure is never limited, however many notifications it sends at
  once (MIT, in a burst);
- `RateLimitedLog`: the reasons go to the log, but a few lines a minute at most and then a
  count (one attack wrote 61,740 warning lines).

The source is the connection's address, or X-Forwarded-For's only when the operator said the
proxy in front is trusted (PAYLINK_PROXY_HEADERS, `serve --proxy-headers`; uvicorn's own
ProxyHeadersMiddleware does the reading). Counts live in the process: with several workers
each keeps its own.
"""

from __future__ import annotations

import ipaddress
import logging
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from paylink_tui.domain.text import loggable

log = logging.getLogger(__name__)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(text: str | None) -> tuple[Network, ...]:
    """`200.57.1.10, 200.57.2.0/24, 2001:db8::/32` -> networks; empty text: none."""
    return tuple(ipaddress.ip_network(item.strip(), strict=False)
                 for item in (text or "").split(",") if item.strip())


def source_key(host: str) -> str:
    """What failures are counted by: the IPv4 address, or the IPv6 /64 it belongs to."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host  # a Unix socket or a name from a test client: counted as it is
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


class RateLimitedLog:
    """`warning(...)` and `error(...)` as a logger's, but at most `burst` lines every
    `period` seconds; what was held back is counted and said in one line after."""

    def __init__(self, logger: logging.Logger, burst: int = 10, period: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.logger = logger
        self.burst = burst
        self.period = period
        self.clock = clock
        self._start = clock()
        self._written = 0
        self._held = 0

    def _log(self, level: int, msg: str, *args: object) -> None:
        now = self.clock()
        if now - self._start >= self.period:
            if self._held:
                self.logger.warning("%d more lines like the above were held back in the last "
                                    "%.0f s", self._held, now - self._start)
            self._start, self._written, self._held = now, 0, 0
        if self._written < self.burst:
            self._written += 1
            self.logger.log(level, msg, *args)
        else:
            self._held += 1

    def warning(self, msg: str, *args: object) -> None:
        self._log(logging.WARNING, msg, *args)

    def error(self, msg: str, *args: object) -> None:
        self._log(logging.ERROR, msg, *args)


@dataclass
class _Source:
    failures: deque[float] = field(default_factory=deque)
    in_flight: int = 0
    alarmed: bool = False


class Attempt:
    """One notification being read; `failed(reason)` when it turned out not to be ours."""

    def __init__(self, guard: NotificationGuard, host: str, key: str) -> None:
        self.guard = guard
        self.host = host
        self.key = key

    def failed(self, reason: str) -> None:
        self.guard._failed(self, reason)


class NotificationGuard:
    def __init__(
        self,
        *,
        max_failures: int = 10,
        window: float = 600.0,
        allowed: tuple[Network, ...] = (),
        clock: Callable[[], float] = time.monotonic,
        max_sources: int = 10_000,
        refusals: RateLimitedLog | None = None,
        alarms: RateLimitedLog | None = None,
    ) -> None:
        self.max_failures = max_failures
        self.window = window
        self.allowed_networks = allowed
        self.clock = clock
        self.max_sources = max_sources
        self.refusals = refusals or RateLimitedLog(log, burst=10, clock=clock)
        self.alarms = alarms or RateLimitedLog(log, burst=5, clock=clock)
        self._sources: OrderedDict[str, _Source] = OrderedDict()
        self.failures_total = 0

    @classmethod
    def from_settings(cls, settings: object) -> NotificationGuard:
        return cls(
            max_failures=getattr(settings, "notify_max_failures", 10),
            window=getattr(settings, "notify_failure_window", 600.0),
            allowed=parse_networks(getattr(settings, "mit_allowed_ips", None)),
        )

    # -- the allow-list -------------------------------------------------------------------

    def allowed(self, host: str) -> bool:
        if not self.allowed_networks:
            return True
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        if any(address in net for net in self.allowed_networks):
            return True
        self.refusals.warning("notification from %s refused: not in PAYLINK_MIT_ALLOWED_IPS",
                              loggable(host))
        return False

    # -- the throttle ---------------------------------------------------------------------

    def _source(self, key: str) -> _Source:
        source = self._sources.get(key)
        if source is None:
            source = self._sources[key] = _Source()
            while len(self._sources) > self.max_sources:  # the least recently seen goes
                oldest = next(iter(self._sources))
                if self._sources[oldest].in_flight:
                    break
                del self._sources[oldest]
        else:
            self._sources.move_to_end(key)
        return source

    def _expire(self, source: _Source, now: float) -> None:
        while source.failures and now - source.failures[0] >= self.window:
            source.failures.popleft()
        if not source.failures:
            source.alarmed = False

    def retry_after(self, host: str) -> float | None:
        """Seconds until `host` may try again, or None when it may try now. Once a source
        has failed, the notifications it has in flight count as failures to come, so a
        burst of forgeries can't slip past the limit before the first ones are counted."""
        key = source_key(host)
        source = self._source(key)
        now = self.clock()
        self._expire(source, now)
        pending = source.in_flight if source.failures else 0
        if len(source.failures) + pending < self.max_failures:
            return None
        if not source.alarmed and len(source.failures) >= self.max_failures:
            source.alarmed = True
            self.alarms.error(
                "POSSIBLE ATTACK: %d notifications from %s failed to decrypt or parse in %.0f s; "
                "its notifications are refused with 429 for now. MIT's own notifications do not "
                "fail: unless PAYLINK_MIT_KEY is wrong, someone is trying to forge a payment",
                len(source.failures), loggable(key), self.window)
        oldest = source.failures[0] if source.failures else now
        return max(1.0, self.window - (now - oldest))

    @contextmanager
    def attempt(self, host: str) -> Iterator[Attempt]:
        """Around the reading of one notification that `retry_after` let through."""
        key = source_key(host)
        source = self._source(key)
        source.in_flight += 1
        try:
            yield Attempt(self, host, key)
        finally:
            source.in_flight -= 1

    def _failed(self, attempt: Attempt, reason: str) -> None:
        now = self.clock()
        source = self._source(attempt.key)
        source.failures.append(now)
        while len(source.failures) > self.max_failures + 1:
            source.failures.popleft()  # enough to know it is over; memory stays bounded
        self.failures_total += 1
        self.refusals.warning("notification from %s refused: %s", loggable(attempt.host),
                              loggable(reason))

    def throttled(self, host: str, seconds: float) -> None:
        self.refusals.warning("notification from %s answered 429 for %.0f s: too many failed "
                              "notifications", loggable(host), seconds)
