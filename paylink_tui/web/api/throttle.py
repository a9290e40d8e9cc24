"""How often sign-in may fail: per user name and per source address (web/guard.py's
`source_key`: an IPv4 address or an IPv6 /64), in a sliding window.

- after SLOW_AFTER failures, each further attempt of that user or address waits a little
  longer before it is answered (SLOW_STEP seconds per failure beyond, at most SLOW_MAX);
- at USER_LIMIT failures for one user name, or ADDRESS_LIMIT from one address, within WINDOW
  seconds, sign-in is refused with 429 and Retry-After (until the oldest failure leaves the
  window) before the password is even looked at.

A name is counted whether or not such a user exists, and the answers are the same, so the
throttle tells nobody which users exist. A success clears that user's count (not the
address's). Counts live in the process, as the notification guard's: with N workers an
attacker gets at most N times the attempts, still a few dozen per window.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict, deque
from collections.abc import Callable

from paylink_tui.services.users import normalise_name
from paylink_tui.web.guard import source_key

WINDOW = 900.0  # 15 minutes
USER_LIMIT = 10
ADDRESS_LIMIT = 30
SLOW_AFTER = 3
SLOW_STEP = 0.5
SLOW_MAX = 3.0
MAX_KEYS = 20_000


class SignInThrottle:
    def __init__(self, *, window: float = WINDOW, user_limit: int = USER_LIMIT,
                 address_limit: int = ADDRESS_LIMIT, slow_after: int = SLOW_AFTER,
                 slow_step: float = SLOW_STEP, clock: Callable[[], float] = time.monotonic
                 ) -> None:
        self.window = window
        self.user_limit = user_limit
        self.address_limit = address_limit
        self.slow_after = slow_after
        self.slow_step = slow_step
        self.clock = clock
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    @staticmethod
    def _keys(user: str, host: str) -> tuple[str, str]:
        return "u:" + normalise_name(user)[:200], "a:" + source_key(host)

    def _get(self, key: str, now: float) -> deque[float]:
        found = self._failures.get(key)
        if found is None:
            found = self._failures[key] = deque()
            while len(self._failures) > MAX_KEYS:
                self._failures.popitem(last=False)
        else:
            self._failures.move_to_end(key)
        while found and now - found[0] >= self.window:
            found.popleft()
        return found

    def retry_after(self, user: str, host: str) -> int | None:
        """Seconds until a refused user/address may try again, or None: it may try now."""
        now = self.clock()
        waits = []
        for key, limit in zip(self._keys(user, host), (self.user_limit, self.address_limit),
                              strict=True):
            failures = self._get(key, now)
            if len(failures) >= limit:
                waits.append(self.window - (now - failures[-limit]))
        if not waits:
            return None
        return max(1, math.ceil(max(waits)))

    def delay(self, user: str, host: str) -> float:
        """Seconds to wait before answering this attempt (slowed after a few failures)."""
        now = self.clock()
        worst = max(len(self._get(k, now)) for k in self._keys(user, host))
        beyond = worst - self.slow_after + 1
        return 0.0 if beyond <= 0 else min(SLOW_MAX, beyond * self.slow_step)

    def failed(self, user: str, host: str) -> None:
        now = self.clock()
        for key in self._keys(user, host):
            failures = self._get(key, now)
            failures.append(now)
            while len(failures) > max(self.user_limit, self.address_limit) + 1:
                failures.popleft()

    def succeeded(self, user: str, host: str) -> None:
        self._failures.pop(self._keys(user, host)[0], None)
