"""Password hashing (argon2id via argon2-cffi) and a minimum-strength rule with clear messages.

Hashing is deliberately slow, so callers on the event loop use the ``*_async``
variants, which run it in a worker thread.
"""

from __future__ import annotations

import asyncio
import unicodedata
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from callcenter.i18n import N_

MIN_LENGTH = 10
MAX_LENGTH = 256

#: Passwords people pick first; a floor, not a dictionary attack defence.
COMMON_PASSWORDS = frozenset(
    {
        "1234567890",
        "12345678910",
        "0123456789",
        "1111111111",
        "password123",
        "password1234",
        "matkhau123",
        "matkhau1234",
        "qwertyuiop",
        "abc1234567",
        "123456789a",
        "a123456789",
        "admin12345",
        "admin123456",
        "iloveyou123",
        "callcenter",
        "callcenter1",
        "tongdai123",
        "tongdai1234",
    }
)

#: argon2id with the OWASP Password Storage Cheat Sheet parameters (19 MiB, 2 passes, 1 lane):
#: ~50 ms per check, so a whole floor logging in at 8:00 does not stall a small server.
#: Hashes made with other parameters are upgraded at the next successful login.
_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)


class WeakPasswordError(ValueError):
    """A password that does not meet the minimum; ``msgid``/``params`` let the UI translate it."""

    def __init__(self, msgid: str, **params: Any) -> None:
        self.msgid = msgid
        self.params = params
        super().__init__(msgid.format(**params))


def _fold(text: str) -> str:
    """Lower-case without Vietnamese diacritics, so 'Mật khẩu' compares like 'mat khau'."""
    decomposed = unicodedata.normalize("NFKD", text.replace("đ", "d").replace("Đ", "D"))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


def check_strength(password: str, *, username: str = "") -> None:
    """Raise :class:`WeakPasswordError` unless the password meets the minimum."""
    if not password or not password.strip():
        raise WeakPasswordError(N_("Password must not be empty."))
    if len(password) < MIN_LENGTH:
        raise WeakPasswordError(
            N_("Password must be at least {min} characters long."), min=MIN_LENGTH
        )
    if len(password) > MAX_LENGTH:
        raise WeakPasswordError(
            N_("Password must be at most {max} characters long."), max=MAX_LENGTH
        )
    folded = _fold(password)
    compact = "".join(ch for ch in folded if not ch.isspace())
    # Short names ("an", "lan") occur inside ordinary words, so only longer ones are checked.
    if len(_fold(username)) >= 4 and _fold(username) in folded:
        raise WeakPasswordError(N_("Password must not contain the username."))
    if len(set(compact)) < 5:
        raise WeakPasswordError(N_("Password must use at least 5 different characters."))
    if compact in COMMON_PASSWORDS:
        raise WeakPasswordError(N_("This password is too common; choose another one."))


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """True if the password matches; False for a mismatch or an unusable (e.g. empty) hash."""
    if not password_hash:
        # Spend the same time as a real check, so unknown users are not revealed by timing.
        password_hash, password = _DUMMY_HASH, password + "\0never"
    try:
        return _hasher.verify(password_hash, password) and password_hash is not _DUMMY_HASH
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


async def hash_password_async(password: str) -> str:
    return await asyncio.to_thread(hash_password, password)


async def verify_password_async(password_hash: str, password: str) -> bool:
    return await asyncio.to_thread(verify_password, password_hash, password)


_DUMMY_HASH = _hasher.hash("dummy password for timing only")
