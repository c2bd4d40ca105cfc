"""A scripted stand-in for the daemon's FastAGI routes, for the simulator's own tests.

It answers the production dialplan's routes (inbound, menu, route, after-call)
with the variables of the contract table in docs/architecture.md.
"""

from __future__ import annotations

from collections import defaultdict

from tests.sim.agi_responder import Responder, Session


class DaemonStub(Responder):
    def __init__(
        self, agents: list[str], *, ring_timeout: int = 8, menu: bool = False, closed: bool = False
    ) -> None:
        super().__init__()
        self.agents = agents
        self.ring_timeout = ring_timeout
        self.menu = menu
        self.closed = closed
        self.menu_digits: list[str] = []
        self.attempts: dict[str, int] = defaultdict(int)
        self.scripts_seen: list[str] = []

    def script_for(self, session: Session) -> list[str]:
        script = session.env.get("agi_network_script", "")
        self.scripts_seen.append(script)
        uid = session.env.get("agi_uniqueid", "")
        if script == "inbound":
            if self.closed:
                return [
                    'SET VARIABLE CC_ACTION "closed"',
                    'SET VARIABLE CC_PROMPT "callcenter/closed"',
                ]
            action = "menu" if self.menu else "route"
            return [f'SET VARIABLE CC_ACTION "{action}"', 'SET VARIABLE CC_GROUP "care"']
        if script == "menu":
            self.menu_digits.append(session.env.get("agi_arg_1", ""))
            return ['SET VARIABLE CC_GROUP "sales"']
        if script == "route":
            index = self.attempts[uid]
            self.attempts[uid] += 1
            if index >= len(self.agents):
                return ['SET VARIABLE CC_ACTION "wait"']
            agent = self.agents[index]
            return [
                'SET VARIABLE CC_ACTION "dial"',
                f'SET VARIABLE CC_AGENT_CHANNEL "PJSIP/{agent}"',
                f'SET VARIABLE CC_AGENT_ID "{agent}"',
                f'SET VARIABLE CC_RING_TIMEOUT "{self.ring_timeout}"',
            ]
        return ["NOOP"]
