"""Login rate limiting per account AND per address, on an injected clock.

A care floor logs in from one NAT address, so the two limits differ: an
account locks after a few failures (one person's typos or a guesser on one
name), an address only after many (a script trying names), and a success
clears that account's failures but not the address's. Failures expire after
``window`` seconds of the clock, so tests move a ManualClock instead of sleeping.
State is in memory: one daemon process serves the web; a restart forgets it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

#: Most keys we remember; beyond this the stalest are dropped (bounded memory under attack).
MAX_KEYS = 100_000


@dataclass(frozen=True)
class ThrottleLimits:
    per_account: int = 5
    per_address: int = 50
    window_seconds: float = 15 * 60


class LoginThrottle:
    def __init__(
        self, monotonic: Callable[[], float], limits: ThrottleLimits | None = None
    ) -> None:
        self._now = monotonic
        self.limits = limits or ThrottleLimits()
        self._accounts: dict[str, deque[float]] = {}
        self._addresses: dict[str, deque[float]] = {}

    def _recent(self, table: dict[str, deque[float]], key: str) -> deque[float] | None:
        failures = table.get(key)
        if failures is None:
            return None
        horizon = self._now() - self.limits.window_seconds
        while failures and failures[0] <= horizon:
            failures.popleft()
        if not failures:
            del table[key]
            return None
        return failures

    def _wait(self, table: dict[str, deque[float]], key: str, limit: int) -> float:
        failures = self._recent(table, key)
        if failures is None or len(failures) < limit:
            return 0.0
        # Blocked until enough old failures expire to bring the count under the limit.
        release = failures[len(failures) - limit] + self.limits.window_seconds
        return max(0.0, release - self._now())

    def retry_after(self, account: str, address: str) -> float:
        """Seconds until this account may try again from this address (0 = may try now)."""
        return max(
            self._wait(self._accounts, account, self.limits.per_account),
            self._wait(self._addresses, address, self.limits.per_address),
        )

    def failed(self, account: str, address: str) -> None:
        now = self._now()
        for table, key in ((self._accounts, account), (self._addresses, address)):
            if len(table) >= MAX_KEYS and key not in table:
                stalest = min(table, key=lambda k: table[k][-1] if table[k] else 0.0)
                del table[stalest]
            table.setdefault(key, deque()).append(now)

    def succeeded(self, account: str) -> None:
        self._accounts.pop(account, None)
