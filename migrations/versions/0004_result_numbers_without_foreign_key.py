"""result_numbers without a foreign key to results: the triggers own its rows.

Only the triggers on ``results`` write ``result_numbers``, each row for a result that is
in the same transaction's view, so the foreign key checked what cannot fail, at a cost:
its check on every leaf (3-4 per result) was about a sixth of what PostgreSQL spent on a
bulk import. Its ``ON DELETE CASCADE`` moves into the delete trigger, and TRUNCATE of
``results`` clears the leaves too.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

ALL_TAGS = "'00000000-0000-0000-0000-000000000000'::uuid"


def index_functions(*, delete_leaves: bool) -> str:
    """The delete and truncate triggers' functions; with ``delete_leaves`` they remove a
    result's ``result_numbers`` rows themselves (0004), else the foreign key's cascade
    does (0003)."""
    delete_leaves_of_row = "DELETE FROM result_numbers WHERE result_id = OLD.id;"
    truncate_leaves = "TRUNCATE result_numbers;"
    return f"""
CREATE OR REPLACE FUNCTION results_index_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT OLD.hidden THEN
        INSERT INTO result_count_deltas (txid, benchmark_id, site_id, flavor_id, tag_id, n)
        SELECT txid_current(), OLD.benchmark_id, OLD.site_id, OLD.flavor_id, t.tag_id, -1
        FROM (
            SELECT {ALL_TAGS} AS tag_id
            UNION ALL
            SELECT tag_id FROM results_tags WHERE result_id = OLD.id
        ) t;
        PERFORM result_counts_mark();
    END IF;
    {delete_leaves_of_row if delete_leaves else ""}
    RETURN OLD;
END $$;

CREATE OR REPLACE FUNCTION results_index_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE benchmark_result_versions SET version = version + 1;
    IF TG_TABLE_NAME = 'results' THEN
        DELETE FROM result_counts;
        {truncate_leaves if delete_leaves else ""}
    ELSE
        DELETE FROM result_counts WHERE tag_id <> {ALL_TAGS};
    END IF;
    RETURN NULL;
END $$;
"""


def upgrade():
    with op.batch_alter_table("result_numbers", schema=None) as batch_op:
        batch_op.drop_constraint("fk_result_numbers_result_id_results", type_="foreignkey")
    if op.get_context().dialect.name == "postgresql":
        op.execute(index_functions(delete_leaves=True))


def downgrade():
    if op.get_context().dialect.name == "postgresql":
        op.execute(index_functions(delete_leaves=False))
        # Leaves of hidden results are never kept; any other orphan would fail the key.
        op.execute(
            "DELETE FROM result_numbers n WHERE NOT EXISTS "
            "(SELECT FROM results r WHERE r.id = n.result_id)"
        )
    with op.batch_alter_table("result_numbers", schema=None) as batch_op:
        batch_op.create_foreign_key(
            "fk_result_numbers_result_id_results",
            "results",
            ["result_id"],
            ["id"],
            ondelete="CASCADE",
        )
