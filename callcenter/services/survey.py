"""The after-call survey's FastAGI route: store the score the caller pressed.

``[cc-after-call]`` asks FastAGI ``after-call`` first; when the survey is on
(system setting ``survey_after_call``) the ACD answers ``CC_ACTION=survey`` and
the dialplan reads one digit, then calls ``survey,<digit>`` here. The score is
stored against the call's ``linkedid`` (the key of its call record) and the
agent who took it. Anything but 1–5 (no digit, ``*``, a timeout) is ignored
with a log line: a caller who does not answer is not a score.
"""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.agi.server import AgiSession, FastAgiServer
from callcenter.clock import Clock
from callcenter.db.repos import surveys as surveys_repo

log = logging.getLogger(__name__)

SCORES = frozenset("12345")


class SurveyService:
    def __init__(self, *, clock: Clock, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.clock = clock
        self.sessions = sessions

    def register_routes(self, server: FastAgiServer, route_deadline: float) -> None:
        server.add_route("survey", self.agi_survey, deadline=route_deadline * 2)

    async def agi_survey(self, session: AgiSession) -> None:
        digit = (session.args[0] if session.args else "").strip()
        if digit not in SCORES:
            log.info("survey on %s: %r is not a score from 1 to 5, ignored", session.channel, digit)
            return
        linkedid = await session.get_variable("CHANNEL(linkedid)") or session.uniqueid
        agent_text = (await session.get_variable("CC_AGENT_ID") or "").strip()
        agent_id = int(agent_text) if agent_text.isdigit() else None
        async with self.sessions() as db, db.begin():
            saved = await surveys_repo.save_score(
                db,
                linkedid=linkedid,
                uniqueid=session.uniqueid,
                score=int(digit),
                caller=session.caller,
                agent_id=agent_id,
                at=self.clock.now(),
            )
        if saved:
            log.info("survey score %s for call %s (agent %s)", digit, linkedid, agent_id)
