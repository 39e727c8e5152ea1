"""Initial schema: users, the catalogue (benchmarks, sites, flavors, tags), results, claims.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "tags",
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("upload_datetime", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tags")),
        sa.UniqueConstraint("name", name=op.f("uq_tags_name")),
    )
    with op.batch_alter_table("tags", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_tags_upload_datetime"), ["upload_datetime"], unique=False
        )

    op.create_table(
        "users",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("sub", sa.String(length=255), nullable=False),
        sa.Column("iss", sa.String(length=255), nullable=False),
        sa.Column("email", sa.Text(), nullable=False),
        sa.Column("registration_datetime", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("sub", "iss", name=op.f("uq_users_sub_iss")),
    )
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_users_email"), ["email"], unique=False)

    op.create_table(
        "benchmarks",
        sa.Column("docker_image", sa.String(length=255), nullable=False),
        sa.Column("docker_tag", sa.String(length=128), nullable=False),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column(
            "json_schema", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column(
            "status",
            sa.Enum("on_review", "approved", name="itemstatus", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("uploader_id", sa.Uuid(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("upload_datetime", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["uploader_id"],
            ["users.id"],
            name=op.f("fk_benchmarks_uploader_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_benchmarks")),
        sa.UniqueConstraint(
            "docker_image", "docker_tag", name=op.f("uq_benchmarks_docker_image_docker_tag")
        ),
    )
    with op.batch_alter_table("benchmarks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_benchmarks_status"), ["status"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_benchmarks_upload_datetime"), ["upload_datetime"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_benchmarks_uploader_id"), ["uploader_id"], unique=False
        )

    op.create_table(
        "sites",
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("address", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column(
            "status",
            sa.Enum("on_review", "approved", name="itemstatus", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("uploader_id", sa.Uuid(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("upload_datetime", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["uploader_id"],
            ["users.id"],
            name=op.f("fk_sites_uploader_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sites")),
        sa.UniqueConstraint("name", name=op.f("uq_sites_name")),
    )
    with op.batch_alter_table("sites", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sites_status"), ["status"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_sites_upload_datetime"), ["upload_datetime"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_sites_uploader_id"), ["uploader_id"], unique=False)

    op.create_table(
        "flavors",
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("site_id", sa.Uuid(), nullable=False),
        sa.Column(
            "status",
            sa.Enum("on_review", "approved", name="itemstatus", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("uploader_id", sa.Uuid(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("upload_datetime", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.id"], name=op.f("fk_flavors_site_id_sites"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["uploader_id"],
            ["users.id"],
            name=op.f("fk_flavors_uploader_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flavors")),
        sa.UniqueConstraint("site_id", "name", name=op.f("uq_flavors_site_id_name")),
    )
    with op.batch_alter_table("flavors", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_flavors_site_id"), ["site_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_flavors_status"), ["status"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_flavors_upload_datetime"), ["upload_datetime"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_flavors_uploader_id"), ["uploader_id"], unique=False)

    op.create_table(
        "results",
        sa.Column("execution_datetime", sa.DateTime(timezone=True), nullable=False),
        sa.Column("json", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.Column("benchmark_id", sa.Uuid(), nullable=False),
        sa.Column("site_id", sa.Uuid(), nullable=False),
        sa.Column("flavor_id", sa.Uuid(), nullable=False),
        sa.Column("hidden", sa.Boolean(), nullable=False),
        sa.Column("uploader_id", sa.Uuid(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("upload_datetime", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["benchmark_id"],
            ["benchmarks.id"],
            name=op.f("fk_results_benchmark_id_benchmarks"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["flavor_id"],
            ["flavors.id"],
            name=op.f("fk_results_flavor_id_flavors"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.id"], name=op.f("fk_results_site_id_sites"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["uploader_id"],
            ["users.id"],
            name=op.f("fk_results_uploader_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_results")),
    )
    with op.batch_alter_table("results", schema=None) as batch_op:
        batch_op.create_index(
            "ix_results_benchmark_id_execution_datetime_id",
            ["benchmark_id", "execution_datetime", "id"],
            unique=False,
        )
        batch_op.create_index(
            "ix_results_execution_datetime_id", ["execution_datetime", "id"], unique=False
        )
        batch_op.create_index(
            "ix_results_flavor_id_execution_datetime_id",
            ["flavor_id", "execution_datetime", "id"],
            unique=False,
        )
        batch_op.create_index(
            "ix_results_site_id_execution_datetime_id",
            ["site_id", "execution_datetime", "id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_results_upload_datetime"), ["upload_datetime"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_results_uploader_id"), ["uploader_id"], unique=False)

    op.create_table(
        "claims",
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("resource_id", sa.Uuid(), nullable=False),
        sa.Column(
            "status",
            sa.Enum("on_review", "approved", name="itemstatus", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("uploader_id", sa.Uuid(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("upload_datetime", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["resource_id"],
            ["results.id"],
            name=op.f("fk_claims_resource_id_results"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["uploader_id"],
            ["users.id"],
            name=op.f("fk_claims_uploader_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_claims")),
    )
    with op.batch_alter_table("claims", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_claims_resource_id"), ["resource_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_claims_status"), ["status"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_claims_upload_datetime"), ["upload_datetime"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_claims_uploader_id"), ["uploader_id"], unique=False)

    op.create_table(
        "results_tags",
        sa.Column("result_id", sa.Uuid(), nullable=False),
        sa.Column("tag_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["result_id"],
            ["results.id"],
            name=op.f("fk_results_tags_result_id_results"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tag_id"], ["tags.id"], name=op.f("fk_results_tags_tag_id_tags"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("result_id", "tag_id", name=op.f("pk_results_tags")),
    )
    with op.batch_alter_table("results_tags", schema=None) as batch_op:
        batch_op.create_index(
            "ix_results_tags_tag_id_result_id", ["tag_id", "result_id"], unique=False
        )


def downgrade():
    with op.batch_alter_table("results_tags", schema=None) as batch_op:
        batch_op.drop_index("ix_results_tags_tag_id_result_id")

    op.drop_table("results_tags")
    with op.batch_alter_table("claims", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_claims_uploader_id"))
        batch_op.drop_index(batch_op.f("ix_claims_upload_datetime"))
        batch_op.drop_index(batch_op.f("ix_claims_status"))
        batch_op.drop_index(batch_op.f("ix_claims_resource_id"))

    op.drop_table("claims")
    with op.batch_alter_table("results", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_results_uploader_id"))
        batch_op.drop_index(batch_op.f("ix_results_upload_datetime"))
        batch_op.drop_index("ix_results_site_id_execution_datetime_id")
        batch_op.drop_index("ix_results_flavor_id_execution_datetime_id")
        batch_op.drop_index("ix_results_execution_datetime_id")
        batch_op.drop_index("ix_results_benchmark_id_execution_datetime_id")

    op.drop_table("results")
    with op.batch_alter_table("flavors", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_flavors_uploader_id"))
        batch_op.drop_index(batch_op.f("ix_flavors_upload_datetime"))
        batch_op.drop_index(batch_op.f("ix_flavors_status"))
        batch_op.drop_index(batch_op.f("ix_flavors_site_id"))

    op.drop_table("flavors")
    with op.batch_alter_table("sites", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sites_uploader_id"))
        batch_op.drop_index(batch_op.f("ix_sites_upload_datetime"))
        batch_op.drop_index(batch_op.f("ix_sites_status"))

    op.drop_table("sites")
    with op.batch_alter_table("benchmarks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_benchmarks_uploader_id"))
        batch_op.drop_index(batch_op.f("ix_benchmarks_upload_datetime"))
        batch_op.drop_index(batch_op.f("ix_benchmarks_status"))

    op.drop_table("benchmarks")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_users_email"))

    op.drop_table("users")
    with op.batch_alter_table("tags", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tags_upload_datetime"))

    op.drop_table("tags")
