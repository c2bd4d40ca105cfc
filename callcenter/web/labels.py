"""Translated names for the codes stored in the database, for every template.

People never see raw codes (``forwarded``, ``previewed``, ``agent_page``): a template
writes ``{{ label("ticket_status", ticket.status) }}`` and gets the name in the page's
language. A code no table knows is shown as it is (better than hiding data), and
``tests/auth/test_i18n.py`` checks that every name here has a Vietnamese translation.
"""

from __future__ import annotations

from collections.abc import Mapping

from callcenter.core import tasks as task_rules
from callcenter.core import tickets as ticket_rules
from callcenter.i18n import N_

IMPORT_STATUS_LABELS = {
    "uploaded": N_("Uploaded"),
    "previewing": N_("Checking the file"),
    "previewed": N_("Preview ready"),
    "importing": N_("Importing"),
    "done": N_("Imported"),
    "failed": N_("Import failed"),
}

CHANGE_VIA_LABELS = {
    "web": N_("Customer page"),
    "import": N_("Excel import"),
    "agent_page": N_("Agent page"),
}

#: ``customers.source`` is free text; the demo and the imports write these codes.
CUSTOMER_SOURCE_LABELS = {
    "hotline": N_("Hotline"),
    "dealer": N_("Dealer"),
    "import": N_("Excel import"),
}

TABLES: dict[str, Mapping[str, str]] = {
    "ticket_status": {str(k): v for k, v in ticket_rules.STATUS_LABELS.items()},
    "ticket_priority": {str(k): v for k, v in ticket_rules.PRIORITY_LABELS.items()},
    "ticket_event": {str(k): v for k, v in ticket_rules.EVENT_LABELS.items()},
    "task_status": {str(k): v for k, v in task_rules.STATUS_LABELS.items()},
    "task_outcome": {str(k): v for k, v in task_rules.OUTCOME_LABELS.items()},
    "task_kind": dict(task_rules.KIND_LABELS),
    "task_origin": dict(task_rules.ORIGIN_LABELS),
    "import_status": IMPORT_STATUS_LABELS,
    "change_via": CHANGE_VIA_LABELS,
    "customer_source": CUSTOMER_SOURCE_LABELS,
}


def msgid(table: str, code: str | None) -> str:
    """The English msgid for ``code`` in ``table`` (the code itself if unknown)."""
    text = code or ""
    return TABLES[table].get(text, text)
