"""The browser softphone room: the agent page's SIP user agent (JsSIP over WebRTC).

What it holds: the current agent's SIP credentials (handed only to their owner), the
JsSIP bundle served from its npm package, and the page's partial, script and style
(``agent_ui/templates/softphone/``, ``agent_ui/static/softphone.*``). The endpoints
themselves are generated into Asterisk by ``provision/sync.py``.
"""
