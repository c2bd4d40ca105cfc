"""Tickets and departments, one room: the department inbox, the ticket page, the ticket
list with its Excel export, the printable job sheet, the live inbox and the background
work (notification outbox, SLA escalation).

- ``plugin.py`` — wiring: the service, the routes, the outbox and escalation tasks;
- ``services.py`` — what pages and the wrap-up call: role rules, moves, announcements;
- ``http.py`` — the pages and the JSON API under ``/api/tickets/``;
- ``schemas.py`` — request bodies and JSON shapes (with their OpenAPI schemas);
- ``bus_consume.py`` — the live inbox: bus events → each open inbox's event stream.

The workflow rules live in ``core/tickets.py``; the queries in ``db/repos/ticket_*.py``;
the outbox and its senders in ``notify/``.
"""
