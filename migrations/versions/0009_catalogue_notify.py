"""catalogue_version: every change of it is announced (LISTEN/NOTIFY).

Each worker LISTENs on ``catalogue_version`` (``backend/catalogue_listener.py``) and so
knows the version without reading it per request. The trigger sits on catalogue_version
itself, so the catalogue triggers of migration 0005 announce through it, and a deleted
row (version unknown) is announced too, with an empty payload. PostgreSQL only: SQLite
has no notifications and keeps reading the version per request.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("""
CREATE FUNCTION catalogue_version_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify(
        'catalogue_version',
        coalesce((SELECT version FROM catalogue_version WHERE id = 1)::text, '')
    );
    RETURN NULL;
END $$;
""")
    op.execute(
        "CREATE TRIGGER catalogue_version_notify "
        "AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON catalogue_version "
        "FOR EACH STATEMENT EXECUTE FUNCTION catalogue_version_notify()"
    )


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER catalogue_version_notify ON catalogue_version")
    op.execute("DROP FUNCTION catalogue_version_notify()")
