"""Annotator accounts. Passwords are hashed with argon2id (argon2-cffi); a failed login takes
as long whether or not the name exists, so names cannot be probed by timing."""

from __future__ import annotations

from enum import StrEnum
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db.models import Annotator

MIN_PASSWORD = 8


class Role(StrEnum):
    annotator = "annotator"
    admin = "admin"


class AccountError(ValueError):
    """An account that cannot be made or changed; the message says why."""


@cache
def _hasher() -> PasswordHasher:
    return PasswordHasher()


@cache
def _dummy_hash() -> str:
    return _hasher().hash("not a password anyone has")


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"a password needs at least {MIN_PASSWORD} characters")


def add_annotator(session: Session, name: str, role: Role, password: str) -> Annotator:
    name = name.strip()
    if not 1 <= len(name) <= 100:
        raise AccountError("a name has 1 to 100 characters")
    _check_password(password)
    # case-insensitively: an identity provider's email names the account so (by_email), and
    # 'Alice@x.org' beside 'alice@x.org' would leave it to chance whose account that is
    same = session.scalar(select(Annotator.name).where(
        func.lower(Annotator.name) == func.lower(name)).limit(1))
    if same is not None:
        raise AccountError(f"annotator {same!r} exists already"
                           + ("" if same == name else " (names differ by more than case)"))
    annotator = Annotator(name=name, role=Role(role).value, password_hash=_hasher().hash(password))
    session.add(annotator)
    session.flush()
    return annotator


def account(session: Session, name: str) -> Annotator:
    annotator = session.scalar(select(Annotator).where(Annotator.name == name))
    if annotator is None:
        raise AccountError(f"no annotator {name!r}")
    return annotator


def set_password(session: Session, name: str, password: str) -> Annotator:
    _check_password(password)
    annotator = account(session, name)
    annotator.password_hash = _hasher().hash(password)
    return annotator


def authenticate(session: Session, name: str, password: str) -> Annotator | None:
    """The annotator with this name and password, or None."""
    annotator = session.scalar(select(Annotator).where(Annotator.name == name.strip()))
    try:
        _hasher().verify(annotator.password_hash if annotator else _dummy_hash(), password)
    except (VerificationError, InvalidHashError):
        return None
    if annotator is not None and _hasher().check_needs_rehash(annotator.password_hash):
        annotator.password_hash = _hasher().hash(password)
    return annotator


def by_email(session: Session, email: str) -> Annotator | None:
    """The account an identity provider's email maps to: the one named by that address
    (case-insensitive: at most one, the store's unique index on lower(name) sees to it), made
    like any other (`factory annotators add alice@example.org`)."""
    email = email.strip()
    if "@" not in email:
        return None
    return session.scalar(select(Annotator).where(
        func.lower(Annotator.name) == func.lower(email)))
