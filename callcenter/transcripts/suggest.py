"""Suggest a category from keyword rules: accent-insensitive phrase matches, most hits win.

Rules are one keyword or phrase per line, Vietnamese or English ("bảo hành",
"warranty"); they and the transcript are folded the same way (``core.text.fold``), and a
keyword matches whole words only ("phanh" does not match "phanhxyz").
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from callcenter.core.text import fold


def keywords_of(rule_text: str) -> list[str]:
    return [fold(line) for line in rule_text.replace(",", "\n").splitlines() if fold(line)]


def suggest(transcript: str, rules: Mapping[int, str]) -> int | None:
    """The category id whose keywords appear most often in ``transcript``; None if none."""
    folded = f" {fold(transcript)} "
    best: tuple[int, int] | None = None
    for category_id, rule_text in sorted(rules.items()):
        hits = sum(
            len(re.findall(rf"(?<!\w){re.escape(keyword)}(?!\w)", folded))
            for keyword in keywords_of(rule_text)
        )
        if hits and (best is None or hits > best[0]):
            best = (hits, category_id)
    return best[1] if best else None
