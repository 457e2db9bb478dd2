"""Engines and sessions. One engine per URL per process; SQLite gets WAL and a busy timeout so
a worker and the CLI can share the embedded file."""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool


@cache
def engine_for(url: str, pooled: bool = True) -> Engine:
    """``pooled=False`` opens a connection per use: for a thread in a process that forks later
    (a worker's main process), so no child inherits an open connection."""
    # pooled: room for the embedded runner's step threads and their lease heartbeats
    extra: dict[str, Any] = {"pool_size": 20, "max_overflow": 20} if pooled else \
        {"poolclass": NullPool}
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 60}, **extra)

        @event.listens_for(engine, "connect")
        def _pragmas(conn: Any, _record: Any) -> None:
            cur = conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True, **extra)


@cache
def sessionmaker_for(url: str, pooled: bool = True) -> sessionmaker[Session]:
    return sessionmaker(engine_for(url, pooled), expire_on_commit=False)


def write_lock(session: Session) -> None:
    """On SQLite, take the database's write lock now (``BEGIN IMMEDIATE``), so what this
    transaction reads before it writes cannot change under it: a count checked and then acted
    on holds (another writer waits on the busy timeout). On PostgreSQL, nothing: row locks do
    that there.

    pysqlite (legacy transaction control, SQLAlchemy's default) opens a transaction only before
    the first INSERT/UPDATE/DELETE, so until then the connection holds no lock and reads in
    autocommit; an explicit BEGIN is allowed in that state, and once a write has opened the
    transaction the lock is held already."""
    connection = session.connection()
    if connection.dialect.name != "sqlite":
        return
    driver = connection.connection.driver_connection
    if driver is not None and not driver.in_transaction:
        driver.execute("BEGIN IMMEDIATE")


def insert_ignore(session: Session, model: type, rows: list[dict[str, Any]]) -> None:
    """Insert rows, silently skipping those whose unique key already exists (idempotent writes)."""
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    session.execute(module.insert(model).on_conflict_do_nothing(), rows)
