"""catalogue_version: a value every committed catalogue change replaces.

Statement-level triggers on sites, flavors, benchmarks and tags write it in the changing
transaction (see ``backend/models/catalogue_version.py`` for why a transaction id or a
random number rather than a counter). Per-process caches of catalogue answers compare it
with the version they were built under.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TABLES = ("sites", "flavors", "benchmarks", "tags")
UPSERT = (
    "INSERT INTO catalogue_version (id, version) VALUES (1, {value}) "
    "ON CONFLICT (id) DO UPDATE SET version = excluded.version"
)


def upgrade():
    op.create_table(
        "catalogue_version",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalogue_version")),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"""
CREATE FUNCTION catalogue_version_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    {UPSERT.format(value="txid_current()")};
    RETURN NULL;
END $$;
""")
        for table in TABLES:
            op.execute(
                f"CREATE TRIGGER {table}_catalogue_version "
                f"AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION catalogue_version_bump()"
            )
        op.execute(UPSERT.format(value="txid_current()"))
    else:
        for table in TABLES:
            for event in ("INSERT", "UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_catalogue_version_{event.lower()} "
                    f"AFTER {event} ON {table} "
                    f"BEGIN {UPSERT.format(value='random()')}; END"
                )
        op.execute(UPSERT.format(value="random()"))


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        for table in TABLES:
            op.execute(f"DROP TRIGGER {table}_catalogue_version ON {table}")
        op.execute("DROP FUNCTION catalogue_version_bump()")
    else:
        for table in TABLES:
            for event in ("insert", "update", "delete"):
                op.execute(f"DROP TRIGGER {table}_catalogue_version_{event}")
    op.drop_table("catalogue_version")
