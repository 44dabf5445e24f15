"""Salted, slow password hashes (Argon2id via argon2-cffi, a maintained library)."""

from __future__ import annotations

import secrets
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()


@cache
def _dummy_hash() -> str:
    # Verified against when the user does not exist, so a wrong user name costs the
    # same time as a wrong password. Made on first use: hashing is slow by design.
    return _hasher.hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    """An Argon2id hash string (salt and parameters included)."""
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> tuple[bool, str | None]:
    """Check ``password`` against ``password_hash`` (None: no such user).

    Returns ``(ok, new_hash)``: ``new_hash`` is set when the hash should be upgraded
    to the hasher's current parameters.
    """
    try:
        _hasher.verify(password_hash or _dummy_hash(), password)
    except (VerificationError, InvalidHashError):
        return False, None
    if password_hash is None:
        return False, None
    if _hasher.check_needs_rehash(password_hash):
        return True, _hasher.hash(password)
    return True, None


def generate_password() -> str:
    """A random password for generated accounts (about 96 bits)."""
    return secrets.token_urlsafe(12)
