"""Blending inbound and outbound work: who may be offered an inbound caller.

An agent in outbound mode (working a lead list or campaign) is left out of inbound offers
unless the caller has waited at least the agent's blend threshold — then inbound comes
first. There is no predictive dialling: outbound calls are always placed by the agent.
"""

from __future__ import annotations

from callcenter.core.acd.model import Agent


def takes_inbound(agent: Agent, waited_seconds: float) -> bool:
    """Whether ``agent`` may be offered a caller who has waited ``waited_seconds``."""
    return not agent.outbound_mode or waited_seconds >= agent.blend_wait_seconds
