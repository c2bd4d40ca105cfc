"""Routing strategies: which free agent(s) of a group ring for the next call.

``least_recent`` (the default) rings whoever has been idle longest since their last
call; ``fewest_calls`` whoever answered fewest today (local day); ``round_robin``
remembers where it stopped per group; ``ring_all`` rings every free agent.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from callcenter.core.acd.base import AcdBase
from callcenter.core.acd.model import Agent, GroupConfig, Strategy
from callcenter.localtime import local_date

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class Strategies(AcdBase):
    def _choose(self, group: GroupConfig, candidates: list[Agent]) -> list[Agent]:
        members = group.members
        if group.strategy is Strategy.RING_ALL:
            return sorted(candidates, key=lambda agent: (members.get(agent.id, 0), agent.id))
        if group.strategy is Strategy.ROUND_ROBIN:
            order = sorted(members, key=lambda agent_id: (members[agent_id], agent_id))
            free = {agent.id: agent for agent in candidates}
            last = self._round_robin_last.get(group.code)
            start = order.index(last) + 1 if last in order else 0
            for agent_id in order[start:] + order[:start]:
                if agent_id in free:
                    self._round_robin_last[group.code] = agent_id
                    return [free[agent_id]]
            return []
        today = local_date(self.clock.now(), self.settings.zone)
        if group.strategy is Strategy.FEWEST_CALLS:
            return [
                min(
                    candidates,
                    key=lambda agent: (
                        self._calls_on(agent, today),
                        self._idle_since(agent),
                        members.get(agent.id, 0),
                        agent.id,
                    ),
                )
            ]
        # least_recent: equal idle clocks (a shift logged in at one instant, a restart) go to
        # whoever answered fewer today, then member priority; the agent id only makes it total.
        return [
            min(
                candidates,
                key=lambda agent: (
                    self._idle_since(agent),
                    self._calls_on(agent, today),
                    members.get(agent.id, 0),
                    agent.id,
                ),
            )
        ]

    @staticmethod
    def _calls_on(agent: Agent, day: date) -> int:
        return agent.calls_today if agent.calls_day == day else 0

    @staticmethod
    def _idle_since(agent: Agent) -> datetime:
        """The least-recent clock: when the agent's last answered call ended (else login).

        Asterisk's ``leastrecent`` ("least recently hung up by this queue"). Wrap-up is
        the same for everyone so it does not change the order, and ending it early does
        not jump the line. A missed ring, a busy phone or a pause never moves this clock:
        letting a phone ring out must not send the agent to the back of the line.
        """
        return agent.last_call_ended_at or agent.logged_in_at or _EPOCH
