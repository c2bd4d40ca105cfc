"""CSRF rules: state-changing requests carry the session's token; websockets come from our origin.

The token lives in the signed session cookie; a form repeats it in the hidden
field ``csrf_token``, a script in the ``X-CSRF-Token`` header. A page on
another site can make the browser send the cookie but cannot read the token.
"""

from __future__ import annotations

import hmac
from urllib.parse import urlsplit

from callcenter.i18n import N_

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
FORM_FIELD = "csrf_token"
HEADER = "X-CSRF-Token"

MISSING_TOKEN = N_(
    "The security token of this form is missing or expired. Reload the page and try again."
)
BAD_TOKEN = N_("The security token of this form is not valid. Reload the page and try again.")
BAD_ORIGIN = N_("This connection comes from another site and was refused.")


def needs_token(method: str) -> bool:
    return method.upper() not in SAFE_METHODS


def token_matches(expected: str, given: str | None) -> bool:
    if not expected or not given:
        return False
    return hmac.compare_digest(expected.encode("utf-8"), given.encode("utf-8"))


def same_origin(origin: str | None, host: str | None) -> bool:
    """True if a browser's ``Origin`` names this host; a missing Origin (non-browser) passes."""
    if origin is None:
        return True
    if not host:
        return False
    parts = urlsplit(origin)
    return parts.scheme in ("http", "https") and parts.netloc.lower() == host.lower()
