"""Alembic environment: migrations are the only way the schema is made.

On PostgreSQL the migration takes a transaction-scoped advisory lock first, so that when
several replicas start at once only one migrates and the others wait, then find nothing
left to do.
"""

import logging
from logging.config import fileConfig

from alembic import context
from flask import current_app
from sqlalchemy import text

from backend.models.types import UTCDateTime

config = context.config
if config.config_file_name and not logging.getLogger().handlers:
    fileConfig(config.config_file_name)
logger = logging.getLogger("alembic.env")

#: Any constant shared by all replicas; identifies "the schema migration" lock.
MIGRATION_LOCK_ID = 0x5E55_0001


def render_item(type_, obj, autogen_context):
    """Render our column types as the plain SQL types they store, so migrations stay
    independent of application code."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def get_metadata():
    return current_app.extensions["migrate"].db.metadata


def run_migrations_offline():
    url = current_app.extensions["migrate"].db.engine.url.render_as_string(hide_password=False)
    context.configure(
        url=url.replace("%", "%%"),
        target_metadata=get_metadata(),
        literal_binds=True,
        render_as_batch=True,
        render_item=render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online():
    def process_revision_directives(context, revision, directives):
        if getattr(config.cmd_opts, "autogenerate", False):
            script = directives[0]
            if script.upgrade_ops.is_empty():
                directives[:] = []
                logger.info("No changes in schema detected.")

    conf_args = dict(current_app.extensions["migrate"].configure_args)
    conf_args.setdefault("process_revision_directives", process_revision_directives)
    conf_args.setdefault("render_as_batch", True)
    conf_args.setdefault("render_item", render_item)

    engine = current_app.extensions["migrate"].db.engine
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=get_metadata(), **conf_args)
        with context.begin_transaction():
            if connection.dialect.name == "postgresql":
                logger.info("Waiting for the migration lock")
                connection.execute(
                    text("SELECT pg_advisory_xact_lock(:id)"), {"id": MIGRATION_LOCK_ID}
                )
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
