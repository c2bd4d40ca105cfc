"""Automatic call distribution: agent states, who gets the next call, and who waits.

Pure logic on plain data: no sockets, no database, time only from the injected
:class:`~callcenter.clock.Clock`. The service (``callcenter/services/acd.py``)
feeds it what Asterisk and the agents do and carries out its decisions
(a Dial for the dialplan, a Redirect for a waiting caller, a QueuePause).

Fairness is the first promise to the staff: with ``least_recent`` (the default)
the free agent who has been idle longest since their last call rings first;
``fewest_calls`` prefers whoever answered fewest calls today (local day);
``round_robin`` remembers where it stopped per group; ``ring_all`` rings every
free agent of the group. Callers wait ordered by priority (open ticket / VIP
first), then first come, first served; a free agent never coexists with a
waiting caller of their group because every change ends with :meth:`Acd.dispatch`.

One module per concern, each a class over the shared state of ``base.py``:
``model`` (states, settings, agents, calls, decisions), ``base`` (state, lookups,
the one place a state changes), ``agents`` (agent actions, wrap-up expiry, who is
free), ``waiting`` (the waiting list), ``strategies`` (who rings next) and
``engine`` (:class:`Acd`: a call's routing from arrival to end). Import from this
package.
"""

from callcenter.core.acd.engine import Acd
from callcenter.core.acd.model import (
    MISSED_CALLS_REASON,
    NOT_TAKEN,
    AcdError,
    AcdSettings,
    Agent,
    AgentState,
    Call,
    CallGone,
    CallPhase,
    Dial,
    GroupConfig,
    StateChange,
    StateListener,
    Strategy,
    Wait,
    WaitingCaller,
)

__all__ = [
    "MISSED_CALLS_REASON",
    "NOT_TAKEN",
    "Acd",
    "AcdError",
    "AcdSettings",
    "Agent",
    "AgentState",
    "Call",
    "CallGone",
    "CallPhase",
    "Dial",
    "GroupConfig",
    "StateChange",
    "StateListener",
    "Strategy",
    "Wait",
    "WaitingCaller",
]
