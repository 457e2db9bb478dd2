"""Annotator accounts. Passwords are hashed with argon2id (argon2-cffi); a failed login takes
as long whether or not the name exists, so names cannot be probed by timing."""

from __future__ import annotations

from enum import StrEnum
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from db.models import Annotator
from db.session import write_lock

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
    """Make an account. Names differing only by case are refused: checked first for the
    message, and an add racing this one past the check is refused by the store's unique index
    on lower(name), also as an AccountError, inside a savepoint so the caller's transaction
    (and whatever it wrote before) survives."""
    name = name.strip()
    if not 1 <= len(name) <= 100:
        raise AccountError("a name has 1 to 100 characters")
    _check_password(password)
    # on SQLite the write lock first: the check below then holds until the insert, and the
    # savepoint opens inside a transaction (a SAVEPOINT outside one would commit on release)
    write_lock(session)
    # case-insensitively: an identity provider's email names the account so (by_email), and
    # 'Alice@x.org' beside 'alice@x.org' would leave it to chance whose account that is
    same = _holder(session, name)
    if same is not None:
        raise AccountError(f"annotator {same!r} exists already"
                           + ("" if same == name else "; names must differ by more than case"))
    annotator = Annotator(name=name, role=Role(role).value, password_hash=_hasher().hash(password))
    try:
        with session.begin_nested():
            session.add(annotator)
    except IntegrityError:
        raise AccountError(f"annotator {name!r} clashes with an account added meanwhile; "
                           "names must differ by more than case") from None
    return annotator


def _holder(session: Session, name: str) -> str | None:
    """The existing name that equals ``name`` whatever the case, if any."""
    return session.scalar(select(Annotator.name).where(
        func.lower(Annotator.name) == func.lower(name)).limit(1))


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
