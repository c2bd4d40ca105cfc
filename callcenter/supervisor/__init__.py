"""The supervisor's floor: the live wallboard (``/supervisor``, pushed over a websocket)
and listening in on agents' calls through the call-control port."""
