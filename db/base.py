"""Declarative base with a naming convention, so Alembic migrations name constraints stably."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Dialect, MetaData, Text, TypeDecorator
from sqlalchemy.orm import DeclarativeBase

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(moment: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes: they are UTC."""
    return moment.replace(tzinfo=UTC) if moment and moment.tzinfo is None else moment


NUL_STORED_AS = "\u2400"  # SYMBOL FOR NUL: visible, and where a NUL was stays plain


class StoredText(TypeDecorator[str]):
    """Text, with any NUL stored as U+2400: PostgreSQL's text refuses NUL outright, and a model
    may write one (a garbage sample, a test case), which would fail the whole step. The same on
    SQLite, so a job's data does not depend on its store; what is judged and exported is then
    the stored text. JSON columns need nothing: PostgreSQL's json (not jsonb) keeps \\u0000."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return value.replace("\x00", NUL_STORED_AS) if value else value


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {
        dict[str, Any]: JSON,
        list[Any]: JSON,
        datetime: DateTime(timezone=True),
    }
