"""Results at scale: exact counters, a side table of numeric JSON leaves, a partial index.

See ``backend/models/result_index.py`` for what the tables are for. On PostgreSQL this
migration also installs the triggers that keep them exact in the same transaction as any
change to ``results`` / ``results_tags`` (ORM, Core executemany, COPY, plain SQL) and fills
them from the rows already there. SQLite gets the tables only (unused there).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

ALL_TAGS = "'00000000-0000-0000-0000-000000000000'::uuid"

FUNCTIONS = f"""
-- The paths (jsonpath text, keys JSON-quoted) that a JSON Schema declares as numbers,
-- following nested "properties". Other constructs ($ref, allOf...) are not followed: their
-- paths are simply not tracked (queries on them scan the documents instead).
CREATE FUNCTION schema_number_paths(schema jsonb) RETURNS SETOF text
LANGUAGE sql IMMUTABLE AS $$
    WITH RECURSIVE walk(keys, node) AS (
        SELECT ARRAY[]::text[], schema
        UNION ALL
        SELECT w.keys || p.key, p.value
        FROM walk w
        CROSS JOIN LATERAL jsonb_each(
            CASE WHEN jsonb_typeof(w.node -> 'properties') = 'object'
                 THEN w.node -> 'properties' ELSE '{{}}'::jsonb END
        ) AS p
        WHERE jsonb_typeof(w.node) = 'object' AND cardinality(w.keys) < 32
    )
    SELECT '$' || string_agg('.' || to_json(u.key)::text, '' ORDER BY u.ord)
    FROM walk CROSS JOIN LATERAL unnest(walk.keys) WITH ORDINALITY AS u(key, ord)
    WHERE walk.node -> 'type' IN ('"number"'::jsonb, '"integer"'::jsonb)
    GROUP BY walk.keys
$$;

-- The tracked numeric leaves of one document of a benchmark. jsonpath in strict mode, so a
-- leaf exists exactly when the API's JSON filter (`@?` with strict jsonpath) could match.
CREATE FUNCTION result_number_leaves(document jsonb, benchmark uuid)
RETURNS TABLE (path text, value numeric)
LANGUAGE sql STABLE AS $$
    SELECT p.path, v.leaf::numeric
    FROM benchmark_number_paths p
    CROSS JOIN LATERAL jsonb_path_query_first(
        document, ('strict ' || p.path)::jsonpath, '{{}}', true
    ) AS v(leaf)
    WHERE p.benchmark_id = benchmark AND jsonb_typeof(v.leaf) = 'number'
$$;

-- Remember that this transaction has counter deltas to fold in at commit.
CREATE FUNCTION result_counts_mark() RETURNS void LANGUAGE sql AS $$
    INSERT INTO result_count_pending (txid) VALUES (txid_current()) ON CONFLICT DO NOTHING
$$;

-- At commit (deferred): fold the transaction's deltas into result_counts in key order, so
-- that two committing writers lock counter rows in the same order and never deadlock; and
-- count one more version of the results of each benchmark concerned.
CREATE FUNCTION result_counts_apply() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO result_counts AS c (benchmark_id, site_id, flavor_id, tag_id, n)
    SELECT benchmark_id, site_id, flavor_id, tag_id, sum(n)
    FROM result_count_deltas WHERE txid = NEW.txid
    GROUP BY benchmark_id, site_id, flavor_id, tag_id
    ORDER BY benchmark_id, site_id, flavor_id, tag_id
    ON CONFLICT (benchmark_id, site_id, flavor_id, tag_id) DO UPDATE SET n = c.n + EXCLUDED.n;
    INSERT INTO benchmark_result_versions AS v (benchmark_id, version)
    SELECT DISTINCT benchmark_id, 1 FROM result_count_deltas WHERE txid = NEW.txid
    ORDER BY benchmark_id
    ON CONFLICT (benchmark_id) DO UPDATE SET version = v.version + 1;
    DELETE FROM result_count_deltas WHERE txid = NEW.txid;
    DELETE FROM result_count_pending WHERE txid = NEW.txid;
    RETURN NULL;
END $$;

CREATE FUNCTION benchmark_result_versions_bump(benchmark uuid) RETURNS void LANGUAGE sql AS $$
    INSERT INTO benchmark_result_versions AS v (benchmark_id, version) VALUES (benchmark, 1)
    ON CONFLICT (benchmark_id) DO UPDATE SET version = v.version + 1
$$;

CREATE FUNCTION results_index_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO result_count_deltas (txid, benchmark_id, site_id, flavor_id, tag_id, n)
    SELECT txid_current(), benchmark_id, site_id, flavor_id, {ALL_TAGS}, count(*)
    FROM new_rows WHERE NOT hidden
    GROUP BY benchmark_id, site_id, flavor_id;
    IF FOUND THEN PERFORM result_counts_mark(); END IF;
    INSERT INTO result_numbers (result_id, benchmark_id, path, value)
    SELECT r.id, r.benchmark_id, l.path, l.value
    FROM new_rows r CROSS JOIN LATERAL result_number_leaves(r.json, r.benchmark_id) l
    WHERE NOT r.hidden;
    RETURN NULL;
END $$;

-- Row-level and BEFORE: the result's tags are still there to be uncounted, whether the
-- ORM deleted them first (then none are left, and the results_tags trigger counted them
-- off) or the foreign key cascade removes them after this row.
CREATE FUNCTION results_index_delete() RETURNS trigger LANGUAGE plpgsql AS $$
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
    RETURN OLD;
END $$;

-- Claims hide and show results; catalogue ids and documents never change in practice,
-- but any change of them is followed too.
CREATE FUNCTION results_index_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    WITH changed AS (
        SELECT o.id,
               o.hidden AS old_hidden, o.benchmark_id AS old_b, o.site_id AS old_s,
               o.flavor_id AS old_f,
               n.hidden AS new_hidden, n.benchmark_id AS new_b, n.site_id AS new_s,
               n.flavor_id AS new_f
        FROM old_rows o JOIN new_rows n ON n.id = o.id
        WHERE (o.hidden, o.benchmark_id, o.site_id, o.flavor_id)
              IS DISTINCT FROM (n.hidden, n.benchmark_id, n.site_id, n.flavor_id)
    ), tagged AS (
        SELECT c.*, t.tag_id
        FROM changed c
        CROSS JOIN LATERAL (
            SELECT {ALL_TAGS} AS tag_id
            UNION ALL
            SELECT rt.tag_id FROM results_tags rt WHERE rt.result_id = c.id
        ) t
    ), deltas AS (
        SELECT old_b AS b, old_s AS s, old_f AS f, tag_id, -1 AS n FROM tagged WHERE NOT old_hidden
        UNION ALL
        SELECT new_b, new_s, new_f, tag_id, 1 FROM tagged WHERE NOT new_hidden
    )
    INSERT INTO result_count_deltas (txid, benchmark_id, site_id, flavor_id, tag_id, n)
    SELECT txid_current(), b, s, f, tag_id, sum(n) FROM deltas GROUP BY b, s, f, tag_id;
    IF FOUND THEN PERFORM result_counts_mark(); END IF;
    -- A document changed in place: no count changes, but its benchmark's version does.
    INSERT INTO result_count_deltas (txid, benchmark_id, site_id, flavor_id, tag_id, n)
    SELECT DISTINCT txid_current(), n.benchmark_id, n.site_id, n.flavor_id, {ALL_TAGS}, 0
    FROM old_rows o JOIN new_rows n ON n.id = o.id
    WHERE o.json IS DISTINCT FROM n.json;
    IF FOUND THEN PERFORM result_counts_mark(); END IF;

    DELETE FROM result_numbers WHERE result_id IN (
        SELECT o.id FROM old_rows o JOIN new_rows n ON n.id = o.id
        WHERE (o.hidden, o.benchmark_id, o.json) IS DISTINCT FROM (n.hidden, n.benchmark_id, n.json)
    );
    INSERT INTO result_numbers (result_id, benchmark_id, path, value)
    SELECT n.id, n.benchmark_id, l.path, l.value
    FROM old_rows o JOIN new_rows n ON n.id = o.id
    CROSS JOIN LATERAL result_number_leaves(n.json, n.benchmark_id) l
    WHERE NOT n.hidden
      AND (o.hidden, o.benchmark_id, o.json) IS DISTINCT FROM (n.hidden, n.benchmark_id, n.json);
    RETURN NULL;
END $$;

CREATE FUNCTION results_index_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE benchmark_result_versions SET version = version + 1;
    IF TG_TABLE_NAME = 'results' THEN
        DELETE FROM result_counts;
    ELSE
        DELETE FROM result_counts WHERE tag_id <> {ALL_TAGS};
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION results_tags_index_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO result_count_deltas (txid, benchmark_id, site_id, flavor_id, tag_id, n)
    SELECT txid_current(), r.benchmark_id, r.site_id, r.flavor_id, c.tag_id,
           CASE TG_OP WHEN 'INSERT' THEN count(*) ELSE -count(*) END
    FROM changed_rows c JOIN results r ON r.id = c.result_id
    WHERE NOT r.hidden
    GROUP BY r.benchmark_id, r.site_id, r.flavor_id, c.tag_id;
    IF FOUND THEN PERFORM result_counts_mark(); END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION results_tags_refuse_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'results_tags rows are inserted and deleted, never updated '
        '(result_counts follow inserts and deletes)';
END $$;

-- A benchmark's tracked paths follow its schema; when an admin changes the schema, its
-- results' leaves are rebuilt. Writers of results wait meanwhile, so none is missed.
CREATE FUNCTION benchmarks_index_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.json_schema IS NOT DISTINCT FROM OLD.json_schema THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'UPDATE' THEN
        LOCK TABLE results IN SHARE MODE;
    END IF;
    DELETE FROM benchmark_number_paths WHERE benchmark_id = NEW.id;
    INSERT INTO benchmark_number_paths (benchmark_id, path)
    SELECT DISTINCT NEW.id, p FROM schema_number_paths(NEW.json_schema) AS p;
    IF TG_OP = 'UPDATE' THEN
        PERFORM benchmark_result_versions_bump(NEW.id);
        DELETE FROM result_numbers WHERE benchmark_id = NEW.id;
        INSERT INTO result_numbers (result_id, benchmark_id, path, value)
        SELECT r.id, r.benchmark_id, l.path, l.value
        FROM results r CROSS JOIN LATERAL result_number_leaves(r.json, r.benchmark_id) l
        WHERE r.benchmark_id = NEW.id AND NOT r.hidden;
    END IF;
    RETURN NULL;
END $$;

-- What the counters should hold, computed from scratch.
CREATE FUNCTION result_index_fresh_counts()
RETURNS TABLE (benchmark_id uuid, site_id uuid, flavor_id uuid, tag_id uuid, n bigint)
LANGUAGE sql STABLE AS $$
    SELECT r.benchmark_id, r.site_id, r.flavor_id, {ALL_TAGS}, count(*)
    FROM results r WHERE NOT r.hidden
    GROUP BY r.benchmark_id, r.site_id, r.flavor_id
    UNION ALL
    SELECT r.benchmark_id, r.site_id, r.flavor_id, rt.tag_id, count(*)
    FROM results r JOIN results_tags rt ON rt.result_id = r.id
    WHERE NOT r.hidden
    GROUP BY r.benchmark_id, r.site_id, r.flavor_id, rt.tag_id
$$;

CREATE FUNCTION result_index_counts_agree() RETURNS boolean LANGUAGE sql STABLE AS $$
    WITH fresh AS (SELECT * FROM result_index_fresh_counts()),
         kept AS (
             SELECT benchmark_id, site_id, flavor_id, tag_id, n FROM result_counts WHERE n <> 0
         )
    SELECT NOT EXISTS (SELECT * FROM fresh EXCEPT ALL SELECT * FROM kept)
       AND NOT EXISTS (SELECT * FROM kept EXCEPT ALL SELECT * FROM fresh)
$$;

CREATE FUNCTION result_index_numbers_agree() RETURNS boolean LANGUAGE sql STABLE AS $$
    WITH fresh AS (
        SELECT r.id, r.benchmark_id, l.path, l.value
        FROM results r CROSS JOIN LATERAL result_number_leaves(r.json, r.benchmark_id) l
        WHERE NOT r.hidden
    ), kept AS (SELECT result_id, benchmark_id, path, value FROM result_numbers)
    SELECT NOT EXISTS (SELECT * FROM fresh EXCEPT ALL SELECT * FROM kept)
       AND NOT EXISTS (SELECT * FROM kept EXCEPT ALL SELECT * FROM fresh)
$$;

CREATE FUNCTION result_index_rebuild() RETURNS void LANGUAGE sql AS $$
    DELETE FROM benchmark_number_paths;
    INSERT INTO benchmark_number_paths (benchmark_id, path)
    SELECT DISTINCT b.id, p
    FROM benchmarks b CROSS JOIN LATERAL schema_number_paths(b.json_schema) p;
    DELETE FROM result_numbers;
    INSERT INTO result_numbers (result_id, benchmark_id, path, value)
    SELECT r.id, r.benchmark_id, l.path, l.value
    FROM results r CROSS JOIN LATERAL result_number_leaves(r.json, r.benchmark_id) l
    WHERE NOT r.hidden;
    DELETE FROM result_count_deltas WHERE txid = txid_current();
    UPDATE benchmark_result_versions SET version = version + 1;
    DELETE FROM result_counts;
    INSERT INTO result_counts (benchmark_id, site_id, flavor_id, tag_id, n)
    SELECT * FROM result_index_fresh_counts();
$$;
"""

TRIGGERS = """
CREATE CONSTRAINT TRIGGER result_counts_apply AFTER INSERT ON result_count_pending
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION result_counts_apply();
CREATE TRIGGER results_index_insert AFTER INSERT ON results
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION results_index_insert();
CREATE TRIGGER results_index_update AFTER UPDATE ON results
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION results_index_update();
CREATE TRIGGER results_index_delete BEFORE DELETE ON results
    FOR EACH ROW EXECUTE FUNCTION results_index_delete();
CREATE TRIGGER results_index_truncate AFTER TRUNCATE ON results
    FOR EACH STATEMENT EXECUTE FUNCTION results_index_truncate();
CREATE TRIGGER results_tags_index_insert AFTER INSERT ON results_tags
    REFERENCING NEW TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION results_tags_index_change();
CREATE TRIGGER results_tags_index_delete AFTER DELETE ON results_tags
    REFERENCING OLD TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION results_tags_index_change();
CREATE TRIGGER results_tags_refuse_update BEFORE UPDATE ON results_tags
    FOR EACH STATEMENT EXECUTE FUNCTION results_tags_refuse_update();
CREATE TRIGGER results_tags_index_truncate AFTER TRUNCATE ON results_tags
    FOR EACH STATEMENT EXECUTE FUNCTION results_index_truncate();
CREATE TRIGGER benchmarks_index_change AFTER INSERT OR UPDATE ON benchmarks
    FOR EACH ROW EXECUTE FUNCTION benchmarks_index_change();
"""

DROP = """
DROP TRIGGER IF EXISTS benchmarks_index_change ON benchmarks;
DROP TRIGGER IF EXISTS results_tags_index_truncate ON results_tags;
DROP TRIGGER IF EXISTS results_tags_refuse_update ON results_tags;
DROP TRIGGER IF EXISTS results_tags_index_delete ON results_tags;
DROP TRIGGER IF EXISTS results_tags_index_insert ON results_tags;
DROP TRIGGER IF EXISTS results_index_truncate ON results;
DROP TRIGGER IF EXISTS results_index_delete ON results;
DROP TRIGGER IF EXISTS results_index_update ON results;
DROP TRIGGER IF EXISTS results_index_insert ON results;
DROP TRIGGER IF EXISTS result_counts_apply ON result_count_pending;
DROP FUNCTION IF EXISTS result_index_rebuild();
DROP FUNCTION IF EXISTS result_index_numbers_agree();
DROP FUNCTION IF EXISTS result_index_counts_agree();
DROP FUNCTION IF EXISTS result_index_fresh_counts();
DROP FUNCTION IF EXISTS benchmarks_index_change();
DROP FUNCTION IF EXISTS results_tags_refuse_update();
DROP FUNCTION IF EXISTS results_tags_index_change();
DROP FUNCTION IF EXISTS results_index_truncate();
DROP FUNCTION IF EXISTS results_index_update();
DROP FUNCTION IF EXISTS results_index_delete();
DROP FUNCTION IF EXISTS results_index_insert();
DROP FUNCTION IF EXISTS result_counts_apply();
DROP FUNCTION IF EXISTS benchmark_result_versions_bump(uuid);
DROP FUNCTION IF EXISTS result_counts_mark();
DROP FUNCTION IF EXISTS result_number_leaves(jsonb, uuid);
DROP FUNCTION IF EXISTS schema_number_paths(jsonb);
"""


def upgrade():
    op.create_table(
        "result_counts",
        sa.Column("benchmark_id", sa.Uuid(), nullable=False),
        sa.Column("site_id", sa.Uuid(), nullable=False),
        sa.Column("flavor_id", sa.Uuid(), nullable=False),
        sa.Column("tag_id", sa.Uuid(), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "benchmark_id", "site_id", "flavor_id", "tag_id", name=op.f("pk_result_counts")
        ),
    )
    op.create_table(
        "result_count_deltas",
        sa.Column("txid", sa.BigInteger(), nullable=False),
        sa.Column("benchmark_id", sa.Uuid(), nullable=False),
        sa.Column("site_id", sa.Uuid(), nullable=False),
        sa.Column("flavor_id", sa.Uuid(), nullable=False),
        sa.Column("tag_id", sa.Uuid(), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        # Rows live only until their transaction commits: no need to survive a crash.
        prefixes=["UNLOGGED"] if op.get_context().dialect.name == "postgresql" else [],
    )
    with op.batch_alter_table("result_count_deltas", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_result_count_deltas_txid"), ["txid"], unique=False)
    op.create_table(
        "result_count_pending",
        sa.Column("txid", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.PrimaryKeyConstraint("txid", name=op.f("pk_result_count_pending")),
    )
    op.create_table(
        "benchmark_result_versions",
        sa.Column("benchmark_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("benchmark_id", name=op.f("pk_benchmark_result_versions")),
    )
    op.create_table(
        "benchmark_number_paths",
        sa.Column("benchmark_id", sa.Uuid(), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["benchmark_id"],
            ["benchmarks.id"],
            name=op.f("fk_benchmark_number_paths_benchmark_id_benchmarks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("benchmark_id", "path", name=op.f("pk_benchmark_number_paths")),
    )
    op.create_table(
        "result_numbers",
        sa.Column("result_id", sa.Uuid(), nullable=False),
        sa.Column("benchmark_id", sa.Uuid(), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("value", sa.Numeric(), nullable=False),
        sa.ForeignKeyConstraint(
            ["result_id"],
            ["results.id"],
            name=op.f("fk_result_numbers_result_id_results"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("result_id", "path", name=op.f("pk_result_numbers")),
    )
    # The default order of the lists, over visible results only: small enough to stay in
    # memory, and a deep page is an index-only walk.
    with op.batch_alter_table("results", schema=None) as batch_op:
        batch_op.drop_index("ix_results_execution_datetime_id")
        batch_op.create_index(
            "ix_results_execution_datetime_id",
            ["execution_datetime", "id"],
            unique=False,
            postgresql_where=sa.text("NOT hidden"),
            sqlite_where=sa.text("NOT hidden"),
        )
    if op.get_context().dialect.name == "postgresql":
        op.execute(FUNCTIONS)
        op.execute(TRIGGERS)
        op.execute("SELECT result_index_rebuild()")
    # After the rebuild: one index build is much faster than millions of index inserts.
    with op.batch_alter_table("result_numbers", schema=None) as batch_op:
        batch_op.create_index(
            "ix_result_numbers_benchmark_id_path_value_result_id",
            ["benchmark_id", "path", "value", "result_id"],
            unique=False,
        )


def downgrade():
    if op.get_context().dialect.name == "postgresql":
        op.execute(DROP)
    with op.batch_alter_table("results", schema=None) as batch_op:
        batch_op.drop_index("ix_results_execution_datetime_id")
        batch_op.create_index(
            "ix_results_execution_datetime_id", ["execution_datetime", "id"], unique=False
        )
    with op.batch_alter_table("result_numbers", schema=None) as batch_op:
        batch_op.drop_index("ix_result_numbers_benchmark_id_path_value_result_id")
    op.drop_table("result_numbers")
    op.drop_table("benchmark_number_paths")
    op.drop_table("benchmark_result_versions")
    op.drop_table("result_count_pending")
    with op.batch_alter_table("result_count_deltas", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_result_count_deltas_txid"))
    op.drop_table("result_count_deltas")
    op.drop_table("result_counts")
