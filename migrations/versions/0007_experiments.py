"""Experiments: MLPerf-style sweeps of jobs, with packed latencies and stored statistics.

Tables for ``backend/models/experiment.py``: experiments (integer id, as the seed service
answered), their tags and configuration document, their jobs (one QPS and one latency list
per selector, with the statistics computed at write time) and the jobs' latencies packed as
float64 chunks. On PostgreSQL the chunks are stored uncompressed (``STORAGE EXTERNAL``):
latencies hardly compress and trying costs time on every write.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def json_document():
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade():
    op.create_table(
        "experiments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("experiment_id", sa.String(length=200), nullable=False),
        sa.Column("benchmark_id", sa.Uuid(), nullable=True),
        sa.Column("site_id", sa.Uuid(), nullable=True),
        sa.Column("flavor_id", sa.Uuid(), nullable=True),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("stats", json_document(), nullable=True),
        sa.Column("uploader_id", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(
            ["benchmark_id"],
            ["benchmarks.id"],
            name=op.f("fk_experiments_benchmark_id_benchmarks"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["flavor_id"],
            ["flavors.id"],
            name=op.f("fk_experiments_flavor_id_flavors"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["site_id"],
            ["sites.id"],
            name=op.f("fk_experiments_site_id_sites"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["uploader_id"],
            ["users.id"],
            name=op.f("fk_experiments_uploader_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_experiments")),
        sa.UniqueConstraint("experiment_id", name=op.f("uq_experiments_experiment_id")),
    )
    with op.batch_alter_table("experiments", schema=None) as batch_op:
        for column in ("benchmark_id", "created", "flavor_id", "site_id", "uploader_id"):
            batch_op.create_index(f"ix_experiments_{column}", [column], unique=False)

    op.create_table(
        "experiment_configs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("experiment_pk", sa.Integer(), nullable=False),
        sa.Column("document", json_document(), nullable=False),
        sa.Column("upload_datetime", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["experiment_pk"],
            ["experiments.id"],
            name=op.f("fk_experiment_configs_experiment_pk_experiments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_experiment_configs")),
        sa.UniqueConstraint("experiment_pk", name=op.f("uq_experiment_configs_experiment_pk")),
    )
    op.create_table(
        "experiment_jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("experiment_pk", sa.Integer(), nullable=False),
        sa.Column("selector", sa.String(length=200), nullable=False),
        sa.Column("qps", sa.Float(), nullable=True),
        sa.Column("sample_count", sa.Integer(), nullable=True),
        sa.Column("stats", json_document(), nullable=True),
        sa.Column("settings", json_document(), nullable=True),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["experiment_pk"],
            ["experiments.id"],
            name=op.f("fk_experiment_jobs_experiment_pk_experiments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_experiment_jobs")),
        sa.UniqueConstraint(
            "experiment_pk", "selector", name=op.f("uq_experiment_jobs_experiment_pk_selector")
        ),
    )
    op.create_table(
        "experiments_tags",
        sa.Column("experiment_pk", sa.Integer(), nullable=False),
        sa.Column("tag_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["experiment_pk"],
            ["experiments.id"],
            name=op.f("fk_experiments_tags_experiment_pk_experiments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tag_id"],
            ["tags.id"],
            name=op.f("fk_experiments_tags_tag_id_tags"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("experiment_pk", "tag_id", name=op.f("pk_experiments_tags")),
    )
    with op.batch_alter_table("experiments_tags", schema=None) as batch_op:
        batch_op.create_index(
            "ix_experiments_tags_tag_id_experiment_pk", ["tag_id", "experiment_pk"], unique=False
        )
    op.create_table(
        "latency_chunks",
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("samples", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["experiment_jobs.id"],
            name=op.f("fk_latency_chunks_job_id_experiment_jobs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("job_id", "seq", name=op.f("pk_latency_chunks")),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE latency_chunks ALTER COLUMN samples SET STORAGE EXTERNAL")


def downgrade():
    op.drop_table("latency_chunks")
    with op.batch_alter_table("experiments_tags", schema=None) as batch_op:
        batch_op.drop_index("ix_experiments_tags_tag_id_experiment_pk")
    op.drop_table("experiments_tags")
    op.drop_table("experiment_jobs")
    op.drop_table("experiment_configs")
    with op.batch_alter_table("experiments", schema=None) as batch_op:
        for column in ("benchmark_id", "created", "flavor_id", "site_id", "uploader_id"):
            batch_op.drop_index(f"ix_experiments_{column}")
    op.drop_table("experiments")
