"""Token-bucket accounts as BIND's RRL and coredns/rrl keep them, bounded in entries.

An account's balance is ``now - stamp`` in nanoseconds. A reply costs ``interval = 1e9 / rate``;
the balance never holds more than one second of credit (``rate`` replies) nor more than
``window`` of debt, and a reply that leaves it negative is over the limit (debited all the same,
so a client that keeps flooding stays blocked). A new account starts full less this reply.
Every ``slip``-th over-limit reply of an account slips (is sent truncated) instead of being
dropped.

The table holds at most ``max_size`` accounts. A new key in a full table takes the place of
an old account that has earned back its full credit (it would start over the same); if none
of the few looked at has, the key is not tracked and its reply goes out.
"""

from __future__ import annotations

from collections.abc import Hashable

NANOS = 1_000_000_000
#: Accounts looked at, oldest first, for one to evict when the table is full.
EVICTION_SCAN = 8


class Verdict:
    ALLOW = 0
    DROP = 1
    SLIP = 2


class Table:
    __slots__ = ("_accounts", "max_size", "slip", "untracked", "window")

    def __init__(self, *, window: float, slip: int, max_size: int) -> None:
        self.window = int(window * NANOS)
        self.slip = slip
        self.max_size = max_size
        #: key -> [stamp, slip countdown]
        self._accounts: dict[Hashable, list[int]] = {}
        #: New keys that found the table full of accounts still in debt.
        self.untracked = 0

    def __len__(self) -> int:
        return len(self._accounts)

    def debit(self, key: Hashable, interval: int, now: int) -> int:
        """Charge one reply of ``interval`` ns to ``key`` at ``now``; a ``Verdict``."""
        account = self._accounts.get(key)
        if account is None:
            if not self._make_room(now):
                self.untracked += 1
                return Verdict.ALLOW
            self._accounts[key] = [now - (NANOS - interval), self.slip]
            return Verdict.ALLOW
        balance = now - account[0] - interval
        if balance >= NANOS:
            balance = NANOS - interval
        elif balance < -self.window:
            balance = -self.window
        account[0] = now - balance
        if balance >= 0:
            return Verdict.ALLOW
        if self.slip:
            if account[1] <= 1:
                account[1] = self.slip
                return Verdict.SLIP
            account[1] -= 1
        return Verdict.DROP

    def _make_room(self, now: int) -> bool:
        accounts = self._accounts
        if len(accounts) < self.max_size:
            return True
        if self.max_size == 0:
            return False
        # The oldest few, each moved to the back when it must stay: the next new key looks
        # at others, so accounts still in debt cannot wall the table off for good.
        for _ in range(min(EVICTION_SCAN, len(accounts))):
            key = next(iter(accounts))
            account = accounts.pop(key)
            if now - account[0] >= self.window:
                return True
            accounts[key] = account
        return False
