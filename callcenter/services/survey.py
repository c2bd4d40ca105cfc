"""The post-call IVR survey's FastAGI route: one question per request, answers stored.

``[cc-after-call]`` asks FastAGI ``after-call`` first; when the survey is on (system
setting ``survey_after_call``) the ACD answers ``CC_ACTION=survey`` and the dialplan
loops: ``AGI(survey,<keys>)`` → the daemon stores the keys as the answer to the
question it asked last (``CC_SURVEY_Q``) and hands over the next one
(``CC_ACTION=survey-ask``, ``CC_PROMPT``, ``CC_SURVEY_DIGITS``, ``CC_SURVEY_TIMEOUT``)
→ ``Read`` → back here, until ``CC_ACTION=survey-done`` (thank-you prompt in
``CC_PROMPT``) or ``survey-end`` (nothing to ask, or nothing answered: no thanks).

The state lives on the channel, not in the daemon, so a restarted daemon or a
replayed request carries on where the caller is. The survey played is the active
one marked "after call"; the phone asks its scale and single-choice questions (a
dependent question only when its condition holds). A key that is no answer repeats
the question once after the "invalid" prompt, then the survey moves on.
"""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.agi.server import AgiSession, FastAgiServer
from callcenter.clock import Clock
from callcenter.core import surveys as rules
from callcenter.core.bus import EventBus
from callcenter.core.events import SurveyAnswered
from callcenter.db.models import Prompt, SurveyResponse
from callcenter.db.repos import customers as customers_repo
from callcenter.db.repos import surveys as surveys_repo

log = logging.getLogger(__name__)

ASK, DONE, END = "survey-ask", "survey-done", "survey-end"
INVALID_PROMPT = "callcenter/invalid"
DEFAULT_QUESTION_PROMPT = "callcenter/survey"
DEFAULT_THANKS_PROMPT = "callcenter/survey-thanks"
KEY_TIMEOUT_SECONDS = 5
RETRIES = 1


class SurveyService:
    def __init__(
        self,
        *,
        clock: Clock,
        sessions: async_sessionmaker[AsyncSession],
        bus: EventBus | None = None,
    ) -> None:
        self.clock = clock
        self.sessions = sessions
        self.bus = bus

    def register_routes(self, server: FastAgiServer, route_deadline: float) -> None:
        server.add_route("survey", self.agi_survey, deadline=route_deadline * 2)

    async def agi_survey(self, session: AgiSession) -> None:
        keys = (session.args[0] if session.args else "").strip()
        asked = (await session.get_variable("CC_SURVEY_Q") or "").strip()
        tries = int((await session.get_variable("CC_SURVEY_TRIES") or "0").strip() or 0)
        call = await self._call_of(session) if asked else None
        # The decision is made in one transaction; Asterisk hears it after the commit, so
        # no write waits on the telephone system's replies.
        answered: list[SurveyResponse] = []
        async with self.sessions() as db, db.begin():
            variables = await self._decide(db, session, keys, asked, tries, call, answered)
        if self.bus is not None:  # after the commit: a campaign's page counts it live
            for response in answered:
                self.bus.publish(
                    SurveyAnswered(
                        survey_id=response.survey_id,
                        response_id=response.id,
                        channel=rules.CHANNEL_IVR,
                        campaign_id=response.campaign_id,
                    )
                )
        await session.set_variables(variables)

    async def _decide(
        self,
        db: AsyncSession,
        session: AgiSession,
        keys: str,
        asked: str,
        tries: int,
        call: dict[str, str] | None,
        answered: list[SurveyResponse],
    ) -> dict[str, str]:
        """What Asterisk does next; a response this key press answered goes in ``answered``."""
        survey = await surveys_repo.after_call_survey(db)
        if survey is None:
            return {"CC_ACTION": END, "CC_PROMPT": ""}
        questions = await surveys_repo.load_questions(db, survey.id)
        response = await surveys_repo.response_by_uniqueid(db, session.uniqueid)
        answers = await surveys_repo.answers_of(db, response.id) if response else {}
        question = next((q for q in questions if str(q.id) == asked), None)
        if question is not None:
            answer = rules.dtmf_answer(question, keys)
            if answer is None and tries < RETRIES:
                log.info("survey on %s: %r answers no question %s", session.channel, keys,
                         question.id)  # fmt: skip
                return await self._ask(db, question, tries=tries + 1)
            if answer is not None:
                if response is None:
                    response = await self._start(db, session, survey.id, call or {})
                await surveys_repo.put_answer(db, response.id, answer)
                answers[question.id] = answer
                answered.append(response)
        following = rules.next_on_phone(questions, answers, question.id if question else None)
        if following is not None:
            return await self._ask(db, following, tries=0)
        if response is None:
            return {"CC_ACTION": END, "CC_PROMPT": ""}
        thanks = await self._sound(db, survey.thanks_prompt) or DEFAULT_THANKS_PROMPT
        log.info("survey response %s stored for call %s", response.id, response.linkedid)
        return {"CC_ACTION": DONE, "CC_PROMPT": thanks}

    async def _ask(
        self, db: AsyncSession, question: rules.Question, *, tries: int
    ) -> dict[str, str]:
        prompt = await self._sound(db, question.ivr_prompt) or DEFAULT_QUESTION_PROMPT
        if tries:
            prompt = f"{INVALID_PROMPT}&{prompt}"
        return {
            "CC_SURVEY_Q": str(question.id),
            "CC_SURVEY_TRIES": str(tries),
            "CC_SURVEY_DIGITS": str(rules.dtmf_digits(question)),
            "CC_SURVEY_TIMEOUT": str(KEY_TIMEOUT_SECONDS),
            "CC_PROMPT": prompt,
            "CC_ACTION": ASK,
        }

    @staticmethod
    async def _call_of(session: AgiSession) -> dict[str, str]:
        """What the channel says about its call: the key of the call record, the agent who
        took it, an outbound campaign's id (read before the transaction opens)."""
        return {
            "linkedid": await session.get_variable("CHANNEL(linkedid)") or session.uniqueid,
            "agent": (await session.get_variable("CC_AGENT_ID") or "").strip(),
            "campaign": (await session.get_variable("CC_CAMPAIGN_ID") or "").strip(),
        }

    async def _start(
        self, db: AsyncSession, session: AgiSession, survey_id: int, call: dict[str, str]
    ) -> SurveyResponse:
        """The caller's response: tied to the call, the agent who took it, the customer (by
        the caller's number) and, on an outbound campaign's call, ``CC_CAMPAIGN_ID``."""
        customer = await customers_repo.find_by_phone(db, session.caller)
        agent, campaign = call.get("agent", ""), call.get("campaign", "")
        return await surveys_repo.save_response(
            db,
            survey_id=survey_id,
            channel=rules.CHANNEL_IVR,
            answers=(),
            at=self.clock.now(),
            customer_id=customer.id if customer else None,
            linkedid=call.get("linkedid") or session.uniqueid,
            uniqueid=session.uniqueid,
            caller=session.caller,
            agent_id=int(agent) if agent.isdigit() else None,
            campaign_id=int(campaign) if campaign.isdigit() else None,
        )

    @staticmethod
    async def _sound(db: AsyncSession, name: str) -> str:
        """A question's prompt: an uploaded prompt's code, or a sound name as it is."""
        name = name.strip()
        if not name:
            return ""
        filename = await db.scalar(select(Prompt.filename).where(Prompt.code == name))
        if filename:
            return "callcenter/" + filename.rsplit(".", 1)[0]
        return name
