"""Alembic environment: the URL comes from the config set by db.migrate."""

from alembic import context

from db import models  # noqa: F401  (registers the tables)
from db.base import Base
from db.session import engine_for

config = context.config
url = config.get_main_option("sqlalchemy.url")


def run_offline() -> None:
    context.configure(url=url, target_metadata=Base.metadata, literal_binds=True,
                      render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    engine = engine_for(url) if url else None
    assert engine is not None, "no database URL"
    with engine.connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        if sqlite:
            # Batch mode rebuilds a SQLite table (copy, drop, rename); with foreign keys on, the
            # drop would cascade into every table that references it. Off for the migration
            # (before its transaction: SQLite ignores the pragma inside one), checked after.
            conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
        context.configure(connection=conn, target_metadata=Base.metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
            if sqlite:
                broken = conn.exec_driver_sql("PRAGMA foreign_key_check").all()
                assert not broken, f"the migration left dangling foreign keys: {broken[:5]}"
        conn.commit()
        if sqlite:
            conn.exec_driver_sql("PRAGMA foreign_keys=ON")
            conn.commit()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
