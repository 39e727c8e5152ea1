"""results.json_shape: which leaves a result's document has, as a digest.

An export's header names every JSON leaf of the selected documents, which took reading
and walking every document before the first row (about 10 µs a result). Documents of a
benchmark mostly share their leaves, so each result now carries the digest of its
document's leaf paths with their kinds (``backend.result_finding.flatten.document_shape``,
computed when it is stored; a document is never changed): the export reads one document
per distinct digest instead. Results stored before this revision have none and are read
as before (``backend.result_finding.streams``).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("results") as batch:
        batch.add_column(sa.Column("json_shape", sa.String(32), nullable=True))


def downgrade():
    with op.batch_alter_table("results") as batch:
        batch.drop_column("json_shape")
