"""One open claim per user and result: a partial unique index on claims.

Every claim mails the result's uploader and support, so repeated claims by one user on one
result flooded both mailboxes (ten parallel claims made ten claims and twenty mails). The
index holds the rule whatever way a claim comes in; ``HasClaims.claim`` checks it first to
say so clearly. Open claims that already break it are merged into the oldest one, whose
message gets the later messages appended, so that the index can be built and nothing an
admin still has to read is lost.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

OPEN = "status = 'on_review'"
#: Open claims with an older open claim by the same user on the same result.
LATER_DUPLICATE = f"""
    {OPEN} AND EXISTS (
        SELECT 1 FROM claims AS older
        WHERE older.{OPEN}
          AND older.resource_id = claims.resource_id
          AND older.uploader_id = claims.uploader_id
          AND (older.upload_datetime < claims.upload_datetime
               OR (older.upload_datetime = claims.upload_datetime AND older.id < claims.id))
    )
"""


def upgrade():
    claims = sa.table(
        "claims",
        sa.column("id"),
        sa.column("message", sa.Text()),
        sa.column("resource_id"),
        sa.column("uploader_id"),
        sa.column("upload_datetime"),
    )
    connection = op.get_bind()
    later = connection.execute(
        sa.select(claims.c.id, claims.c.resource_id, claims.c.uploader_id, claims.c.message)
        .where(sa.text(LATER_DUPLICATE))
        .order_by(claims.c.upload_datetime, claims.c.id)
    ).all()
    for duplicate in later:
        oldest = connection.execute(
            sa.select(claims.c.id, claims.c.message)
            .where(
                sa.text(OPEN),
                claims.c.resource_id == duplicate.resource_id,
                claims.c.uploader_id == duplicate.uploader_id,
                claims.c.id.not_in([row.id for row in later]),
            )
            .limit(1)
        ).one()
        connection.execute(
            sa.update(claims)
            .where(claims.c.id == oldest.id)
            .values(message=oldest.message + "\n\n" + duplicate.message)
        )
    if later:
        connection.execute(sa.delete(claims).where(claims.c.id.in_([row.id for row in later])))
    with op.batch_alter_table("claims", schema=None) as batch_op:
        batch_op.create_index(
            "uq_claims_open_resource_id_uploader_id",
            ["resource_id", "uploader_id"],
            unique=True,
            postgresql_where=sa.text(OPEN),
            sqlite_where=sa.text(OPEN),
        )


def downgrade():
    with op.batch_alter_table("claims", schema=None) as batch_op:
        batch_op.drop_index("uq_claims_open_resource_id_uploader_id")
