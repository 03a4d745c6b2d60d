"""Who may change allocations from Slack: the listed merchandisers and the members of one user
group. Everyone else may look (review, lists, the Home tab) but not act.

The group's members come from ``usergroups.users.list``, cached for ``ttl`` seconds: every button
press asks, and one Web API call per press would both slow the 3-second ack budget and run into
Slack's rate limits. When Slack cannot answer, a recent list (up to ``stale_ttl``) still decides;
with none, the error goes up so that the user is told the check failed rather than that they are
not a merchandiser.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Collection

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

log = logging.getLogger(__name__)

GROUP_TTL = 60.0
STALE_TTL = 600.0


class Authorizer:
    def __init__(
        self,
        users: Collection[str],
        group: str,
        client: WebClient,
        *,
        ttl: float = GROUP_TTL,
        stale_ttl: float = STALE_TTL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.users = frozenset(users)
        self.group = group
        self.client = client
        self.ttl = ttl
        self.stale_ttl = stale_ttl
        self.clock = clock
        self._lock = threading.Lock()
        self._members: frozenset[str] | None = None
        self._fetched = 0.0

    def may_change(self, user_id: str) -> bool:
        """True for a listed merchandiser or a member of the merchandiser group. Raises the
        Web API error when the group cannot be read and no recent list is known."""
        if user_id in self.users:
            return True
        if not self.group:
            return False
        return user_id in self._group_members()

    def _group_members(self) -> frozenset[str]:
        with self._lock:
            age = self.clock() - self._fetched
            if self._members is not None and age < self.ttl:
                return self._members
            try:
                answer = self.client.usergroups_users_list(usergroup=self.group)
            except (SlackApiError, SlackClientError, OSError) as exc:
                if self._members is not None and age < self.stale_ttl:
                    log.warning("usergroups.users.list failed (%s); using the list of %.0fs ago",
                                exc, age)  # fmt: skip
                    return self._members
                log.error("usergroups.users.list failed for %s: %s", self.group, exc)
                raise
            self._members = frozenset(answer.get("users") or ())
            self._fetched = self.clock()
            return self._members
