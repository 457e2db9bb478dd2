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
    if not url:
        raise RuntimeError("no database URL")
    # A connection of its own, never pooled: the pragma below must not reach later sessions.
    with engine_for(url, pooled=False).connect() as conn:
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
                if broken:
                    raise RuntimeError(f"the migration left dangling foreign keys: "
                                       f"{broken[:5]}")
        conn.commit()

if context.is_offline_mode():
    run_offline()
else:
    run_online()
