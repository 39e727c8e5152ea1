"""Artifacts: files (models, datasets, logs, outputs) stored in an artifact store.

One table for ``backend/models/artifact.py``. Links to results, experiments and parent
artifacts are SET NULL on delete: an artifact belongs to its uploader, and deleting what it
was attached to must not lose the file. ``blob_key`` is indexed because a blob is deleted
only when no row names it any more.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def enum(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, length=16, create_constraint=False)


def upgrade():
    op.create_table(
        "artifacts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("upload_datetime", sa.DateTime(timezone=True), nullable=False),
        sa.Column("uploader_id", sa.Uuid(), nullable=True),
        sa.Column(
            "kind",
            enum(
                "artifactkind",
                "algo",
                "data",
                "model",
                "prediction",
                "problem",
                "log",
                "config",
                "other",
            ),
            nullable=False,
        ),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column(
            "metadata",
            sa.JSON().with_variant(postgresql.JSONB(), "postgresql"),
            nullable=False,
        ),
        sa.Column("visibility", enum("visibility", "public", "private"), nullable=False),
        sa.Column("state", enum("artifactstate", "pending", "ready"), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("blob_key", sa.String(length=255), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("result_id", sa.Uuid(), nullable=True),
        sa.Column("experiment_pk", sa.Integer(), nullable=True),
        sa.Column("parent_id", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(
            ["uploader_id"],
            ["users.id"],
            name=op.f("fk_artifacts_uploader_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["result_id"],
            ["results.id"],
            name=op.f("fk_artifacts_result_id_results"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["experiment_pk"],
            ["experiments.id"],
            name=op.f("fk_artifacts_experiment_pk_experiments"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["parent_id"],
            ["artifacts.id"],
            name=op.f("fk_artifacts_parent_id_artifacts"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_artifacts")),
    )
    for column in (
        "upload_datetime",
        "uploader_id",
        "kind",
        "blob_key",
        "expires_at",
        "result_id",
        "experiment_pk",
        "parent_id",
    ):
        op.create_index(op.f(f"ix_artifacts_{column}"), "artifacts", [column])


def downgrade():
    op.drop_table("artifacts")
