"""Password strength rules and argon2 hashing."""

from __future__ import annotations

import pytest

from callcenter.auth.passwords import (
    WeakPasswordError,
    check_strength,
    hash_password,
    verify_password,
)
from callcenter.i18n import translate


@pytest.mark.parametrize(
    ("password", "fragment"),
    [
        ("", "must not be empty"),
        ("          ", "must not be empty"),
        ("ngan-qua", "at least 10 characters"),
        ("an.nguyen-2026!", "must not contain the username"),
        ("aaaaabbbbbaaaaa", "at least 5 different characters"),
        ("1234567890", "too common"),
        ("Mat Khau 123", "too common"),
        ("x" * 300, "at most 256"),
    ],
)
def test_weak_passwords_are_refused_with_a_clear_message(password: str, fragment: str) -> None:
    with pytest.raises(WeakPasswordError) as caught:
        check_strength(password, username="an.nguyen")
    assert fragment in str(caught.value)
    # The message is translatable: the Vietnamese catalog has it.
    vietnamese = translate("vi", caught.value.msgid, **caught.value.params)
    assert vietnamese != caught.value.msgid.format(**caught.value.params)


def test_username_check_ignores_case_and_diacritics() -> None:
    with pytest.raises(WeakPasswordError):
        check_strength("Đức-Anh-mật-khẩu-99", username="ducanh".replace("ducanh", "duc-anh"))


def test_strong_password_passes_and_hash_verifies() -> None:
    check_strength("Mật-khẩu-đủ-mạnh-123", username="an.nguyen")
    hashed = hash_password("Mật-khẩu-đủ-mạnh-123")
    assert hashed.startswith("$argon2id$")
    assert verify_password(hashed, "Mật-khẩu-đủ-mạnh-123")
    assert not verify_password(hashed, "Mật-khẩu-đủ-mạnh-124")
    assert not verify_password("", "anything at all")
    assert not verify_password("not-a-hash", "anything at all")
