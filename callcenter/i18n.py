"""Languages: Vietnamese first, English per user, from Babel gettext catalogs.

Message ids are English and live in code (``_()``/``N_()``) and templates
(``{{ _("Log in") }}``); ``pybabel extract -F babel.cfg`` finds them. The
translations are ``callcenter/locale/<lang>/LC_MESSAGES/messages.po``, read at
start-up with Babel's ``read_po`` — no compiled ``.mo`` files, no build step.
English needs no catalog: an English id is its own translation.
"""

from __future__ import annotations

import gettext
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

from babel.messages.pofile import read_po

SUPPORTED_LANGUAGES = ("vi", "en")
DEFAULT_LANGUAGE = "vi"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
DOMAIN = "messages"


def N_(message: str) -> str:
    """Mark ``message`` for ``pybabel extract``; translation happens where it is displayed."""
    return message


class PoTranslations(gettext.NullTranslations):
    """Translations read straight from a .po catalog (fuzzy and empty entries are skipped)."""

    def __init__(self, language: str, po_path: Path | None) -> None:
        super().__init__()
        self.language = language
        self._singular: dict[str, str] = {}
        self._plural: dict[str, list[str]] = {}
        self._plural_func: Any = lambda n: int(n != 1)
        if po_path is not None and po_path.exists():
            with po_path.open("rb") as handle:
                catalog = read_po(handle, locale=language, domain=DOMAIN)
            # The catalog's C plural expression, compiled the way the stdlib reads .mo files.
            self._plural_func = gettext.c2py(catalog.plural_expr)  # type: ignore[attr-defined]
            for message in catalog:
                if not message.id or message.fuzzy:
                    continue
                if isinstance(message.id, tuple | list):
                    forms = [str(s) for s in message.string or ()]
                    if all(forms):
                        self._plural[str(message.id[0])] = forms
                elif message.string:
                    self._singular[str(message.id)] = str(message.string)

    def gettext(self, message: str) -> str:
        return self._singular.get(message, message)

    def ngettext(self, msgid1: str, msgid2: str, n: int) -> str:
        forms = self._plural.get(msgid1)
        if forms is None:
            return msgid1 if n == 1 else msgid2
        index = int(self._plural_func(n))
        return forms[min(index, len(forms) - 1)]

    def pgettext(self, context: str, message: str) -> str:
        return self.gettext(message)

    def npgettext(self, context: str, msgid1: str, msgid2: str, n: int) -> str:
        return self.ngettext(msgid1, msgid2, n)

    @property
    def messages(self) -> Mapping[str, str]:
        return dict(self._singular)


def catalog_path(language: str) -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


@cache
def translations(language: str) -> PoTranslations:
    """The translations for ``language`` (unknown languages fall back to Vietnamese)."""
    if language not in SUPPORTED_LANGUAGES:
        language = DEFAULT_LANGUAGE
    return PoTranslations(language, catalog_path(language))


def reload() -> None:
    """Forget loaded catalogs (after editing a .po file, or in tests)."""
    translations.cache_clear()


def pick_language(*candidates: str | None) -> str:
    """The first supported language among the candidates (user choice, account, site default)."""
    for candidate in candidates:
        if candidate and candidate in SUPPORTED_LANGUAGES:
            return candidate
    return DEFAULT_LANGUAGE


def translate(language: str, message: str, **params: Any) -> str:
    """Translate ``message`` and fill ``{name}`` placeholders from ``params``."""
    text = translations(language).gettext(message)
    return text.format(**params) if params else text
