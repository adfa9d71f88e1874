"""The password rule of DESIGN §16: at least 10 characters, not a common one, not the name.

Common passwords are Django's list (`common-passwords.txt.gz`, 20,000 passwords, copied
unchanged from Django 5.2.8, BSD licence), compared case-insensitively. Hashing (argon2id) is
the user store's business, outside the domain.
"""

from __future__ import annotations

import functools
import gzip
from importlib import resources
from typing import Any

from domain import errors

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 200  # argon2 takes any length; a bound keeps hashing cheap


@functools.cache
def common_passwords() -> frozenset[str]:
    data = resources.files("domain").joinpath("common-passwords.txt.gz").read_bytes()
    return frozenset(gzip.decompress(data).decode("utf-8").split())


def check_password(value: Any, *, name: str | None = None, field: str = "password") -> str:
    """The password if it may be used; else 422 `weak_password` naming why."""
    if not isinstance(value, str):
        raise errors.WeakPassword("a password is text", field=field)
    if len(value) > MAX_PASSWORD_LENGTH:
        raise errors.WeakPassword(
            f"a password has at most {MAX_PASSWORD_LENGTH} characters (密码过长)", field=field
        )
    if len(value) < MIN_PASSWORD_LENGTH:
        raise errors.WeakPassword(
            f"a password has at least {MIN_PASSWORD_LENGTH} characters (密码至少10位)",
            field=field,
        )
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise errors.WeakPassword("a password has no control characters", field=field)
    folded = value.casefold()
    if folded in common_passwords() or len(set(folded)) < 4:
        raise errors.WeakPassword(
            "this password is among the most common ones (密码过于常见)", field=field
        )
    if name and len(name) >= 3 and name.casefold() in folded:
        raise errors.WeakPassword(
            "a password must not contain the account's name (密码不能包含用户名)", field=field
        )
    return value
