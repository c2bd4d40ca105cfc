"""The agent desk, one room: the agent page, its websocket, its JSON actions, the live desk
driven by bus events and the agents' task list (callbacks).

- ``plugin.py`` — wiring: one hub and one desk per application, the routes, the desk's
  lifetime (installed by ``web/app.py`` in every application: see its docstring);
- ``http.py`` — the ``/agent`` page and the JSON actions under ``/api/agent/``;
- ``ws.py`` — the websocket ``/agent/ws``;
- ``schemas.py`` — request bodies and JSON shapes (with their OpenAPI schemas);
- ``services.py`` — the one path to the telephone system (the call-control port) and the
  ACD for the page's actions, also used by the tickets room's click-to-call;
- ``desk.py`` — the live desk: bus events → per-agent messages, resync, the wrap-up timer;
- ``hub.py`` — the websocket hub (one bounded queue and writer per connection);
- ``tasks_http.py`` — the agents' task list (callbacks) and the supervisors' ``/tasks``.

The rules live in ``core/screenpop.py``, ``core/tickets.py`` and ``core/tasks.py``; the
queries in ``db/repos/``; the page in ``agent_ui/templates/agent.html``.
"""
