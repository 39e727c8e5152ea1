"""A v1.2.x-shaped PostgreSQL database, for the ``flask import-v1`` tests and
``perf/import_v1.py``.

The schema is the one ../shared/V1-DATABASE.md records from a live v1.2.3 deployment
(tables, types, constraints, the ``resourcestatus`` enum, Alembic head ``112055db4eff``),
written as SQL so that nothing of this service's models leaks into it. ``V1Rows`` adds
rows one at a time (tests: every id known); ``generate_results`` adds many at once in the
server (perf).
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, text

V1_REVISION = "112055db4eff"

V1_SCHEMA = """
CREATE TYPE resourcestatus AS ENUM ('on_review', 'approved');
CREATE TABLE "user" (
    sub text NOT NULL, iss text NOT NULL, email text NOT NULL,
    registration_datetime timestamp NOT NULL,
    PRIMARY KEY (sub, iss)
);
CREATE TABLE tag (id uuid PRIMARY KEY, name text NOT NULL UNIQUE, description text);
CREATE TABLE submit (
    id uuid PRIMARY KEY, resource_type varchar NOT NULL, upload_datetime timestamp NOT NULL
);
CREATE TABLE benchmark (
    id uuid PRIMARY KEY, uploader_sub text NOT NULL, uploader_iss text NOT NULL,
    upload_datetime timestamp NOT NULL, status resourcestatus,
    docker_image text NOT NULL, docker_tag text NOT NULL, json_schema json NOT NULL,
    description text, url text NOT NULL, _submit_report_id uuid REFERENCES submit (id),
    UNIQUE (docker_image, docker_tag),
    FOREIGN KEY (uploader_sub, uploader_iss) REFERENCES "user" (sub, iss)
);
CREATE TABLE site (
    id uuid PRIMARY KEY, uploader_sub text NOT NULL, uploader_iss text NOT NULL,
    upload_datetime timestamp NOT NULL, status resourcestatus,
    name text NOT NULL UNIQUE, address text NOT NULL, description text,
    _submit_report_id uuid REFERENCES submit (id),
    FOREIGN KEY (uploader_sub, uploader_iss) REFERENCES "user" (sub, iss)
);
CREATE TABLE flavor (
    id uuid PRIMARY KEY, uploader_sub text NOT NULL, uploader_iss text NOT NULL,
    upload_datetime timestamp NOT NULL, status resourcestatus,
    name text NOT NULL, description text, site_id uuid NOT NULL REFERENCES site (id),
    _submit_report_id uuid REFERENCES submit (id),
    UNIQUE (site_id, name),
    FOREIGN KEY (uploader_sub, uploader_iss) REFERENCES "user" (sub, iss)
);
CREATE TABLE claim (
    id uuid PRIMARY KEY, uploader_sub text NOT NULL, uploader_iss text NOT NULL,
    status resourcestatus, message text NOT NULL, resource_type varchar NOT NULL,
    upload_datetime timestamp NOT NULL, _submit_report_id uuid REFERENCES submit (id)
);
CREATE TABLE result (
    id uuid PRIMARY KEY, deleted boolean NOT NULL,
    uploader_sub text NOT NULL, uploader_iss text NOT NULL,
    upload_datetime timestamp NOT NULL, json jsonb NOT NULL,
    execution_datetime timestamp NOT NULL,
    benchmark_id uuid NOT NULL REFERENCES benchmark (id),
    flavor_id uuid NOT NULL REFERENCES flavor (id),
    site_id uuid NOT NULL REFERENCES site (id),
    _claim_report_id uuid REFERENCES claim (id)
);
CREATE TABLE result_tags (
    result_id uuid NOT NULL REFERENCES result (id),
    tag_id uuid NOT NULL REFERENCES tag (id) ON DELETE CASCADE,
    PRIMARY KEY (result_id, tag_id)
);
CREATE TABLE alembic_version (version_num varchar(32) NOT NULL PRIMARY KEY);
"""


def create_v1_schema(connection: Connection, revision: str = V1_REVISION) -> None:
    """Create the v1 tables (at ``revision``; tests give another to be refused)."""
    connection.exec_driver_sql(V1_SCHEMA)
    connection.execute(text("INSERT INTO alembic_version VALUES (:r)"), {"r": revision})


def _naive_utc(value: datetime) -> datetime:
    """How v1 stores a time: UTC without a zone."""
    return value if value.tzinfo is None else value.astimezone(UTC).replace(tzinfo=None)


class V1Rows:
    """Adds rows to a v1 database as v1 would have stored them; each method returns the
    new row's id (users: their (sub, iss))."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def _insert(self, table: str, **values: Any) -> Any:
        names = ", ".join(values)
        marks = ", ".join(f":{name}" for name in values)
        self.connection.execute(text(f"INSERT INTO {table} ({names}) VALUES ({marks})"), values)
        return values.get("id")

    def _submit(self, kind: str, when: datetime, status: str | None) -> uuid.UUID | None:
        if status == "approved":
            return None
        return self._insert("submit", id=uuid.uuid4(), resource_type=kind, upload_datetime=when)

    def user(self, sub: str, iss: str, email: str, registered: datetime) -> tuple[str, str]:
        self._insert(
            '"user"', sub=sub, iss=iss, email=email, registration_datetime=_naive_utc(registered)
        )
        return sub, iss

    def tag(self, name: str, description: str | None = None) -> uuid.UUID:
        return self._insert("tag", id=uuid.uuid4(), name=name, description=description)

    def _uploaded(self, kind: str, uploader: tuple[str, str], when: datetime, status: Any):
        when = _naive_utc(when)
        return {
            "id": uuid.uuid4(),
            "uploader_sub": uploader[0],
            "uploader_iss": uploader[1],
            "upload_datetime": when,
            "status": status,
            "_submit_report_id": self._submit(kind, when, status),
        }

    def site(self, uploader, when, status, name, address, description=None) -> uuid.UUID:
        row = self._uploaded("site", uploader, when, status)
        return self._insert("site", **row, name=name, address=address, description=description)

    def flavor(self, uploader, when, status, site_id, name, description=None) -> uuid.UUID:
        row = self._uploaded("flavor", uploader, when, status)
        return self._insert("flavor", **row, site_id=site_id, name=name, description=description)

    def benchmark(
        self, uploader, when, status, image, tag, schema, url, description=None
    ) -> uuid.UUID:
        row = self._uploaded("benchmark", uploader, when, status)
        return self.connection.execute(
            text(
                "INSERT INTO benchmark (id, uploader_sub, uploader_iss, upload_datetime, "
                "status, _submit_report_id, docker_image, docker_tag, json_schema, "
                "description, url) VALUES (:id, :uploader_sub, :uploader_iss, "
                ":upload_datetime, :status, :_submit_report_id, :image, :tag, "
                "CAST(:schema AS json), :description, :url) RETURNING id"
            ),
            row
            | {
                "image": image,
                "tag": tag,
                "schema": json.dumps(schema),
                "description": description,
                "url": url,
            },
        ).scalar_one()

    def result(
        self,
        uploader: tuple[str, str],
        uploaded: datetime,
        executed: datetime,
        document: Any,
        benchmark_id: uuid.UUID,
        flavor_id: uuid.UUID,
        site_id: uuid.UUID,
        tag_ids: list[uuid.UUID] = (),
        deleted: bool = False,
    ) -> uuid.UUID:
        result_id = self.connection.execute(
            text(
                "INSERT INTO result (id, deleted, uploader_sub, uploader_iss, upload_datetime,"
                " json, execution_datetime, benchmark_id, flavor_id, site_id) VALUES (:id, "
                ":deleted, :sub, :iss, :uploaded, CAST(:json AS jsonb), :executed, :b, :f, "
                ":s) RETURNING id"
            ),
            {
                "id": uuid.uuid4(),
                "deleted": deleted,
                "sub": uploader[0],
                "iss": uploader[1],
                "uploaded": _naive_utc(uploaded),
                "json": json.dumps(document),
                "executed": _naive_utc(executed),
                "b": benchmark_id,
                "f": flavor_id,
                "s": site_id,
            },
        ).scalar_one()
        for tag_id in tag_ids:
            self._insert("result_tags", result_id=result_id, tag_id=tag_id)
        return result_id

    def claim(
        self,
        claimer: tuple[str, str],
        when: datetime,
        status: str | None,
        result_id: uuid.UUID,
        message: str,
    ) -> uuid.UUID:
        """Claim ``result_id`` as v1 does: the claim, its submit report if pending, and
        the result soft-deleted and pointing at it."""
        when = _naive_utc(when)
        claim_id = self._insert(
            "claim",
            id=uuid.uuid4(),
            uploader_sub=claimer[0],
            uploader_iss=claimer[1],
            status=status,
            message=message,
            resource_type="result",
            upload_datetime=when,
            _submit_report_id=self._submit("claim", when, status),
        )
        self.connection.execute(
            text("UPDATE result SET deleted = true, _claim_report_id = :c WHERE id = :r"),
            {"c": claim_id, "r": result_id},
        )
        return claim_id


def generate_results(
    connection: Connection,
    count: int,
    *,
    uploader: tuple[str, str],
    benchmark_id: uuid.UUID,
    flavors: list[tuple[uuid.UUID, uuid.UUID]],
    tag_ids: list[uuid.UUID],
) -> None:
    """Add ``count`` results (about 1 KB of JSON each, a tag on every other one) in one
    statement: spread over ``flavors`` ((flavor id, site id) pairs), one day apart."""
    connection.execute(
        text(
            """
            INSERT INTO result (id, deleted, uploader_sub, uploader_iss, upload_datetime, json,
                                execution_datetime, benchmark_id, flavor_id, site_id)
            SELECT gen_random_uuid(), false, :sub, :iss,
                   timestamp '2021-01-01' + n * interval '1 minute',
                   jsonb_build_object(
                       'result', jsonb_build_object('score', n % 997, 'runs', n % 7 + 1),
                       'machine', jsonb_build_object('cpu', jsonb_build_object(
                           'count', n % 64 + 1, 'model', 'EPYC ' || (n % 13))),
                       'log', repeat(md5(n::text), 28)),
                   timestamp '2020-01-01' + n * interval '1 minute',
                   :benchmark_id,
                   (:flavors)[n % array_length(:flavors, 1) + 1],
                   (:sites)[n % array_length(:sites, 1) + 1]
            FROM generate_series(1, :count) AS n
            """
        ),
        {
            "sub": uploader[0],
            "iss": uploader[1],
            "benchmark_id": benchmark_id,
            "flavors": [f for f, _ in flavors],
            "sites": [s for _, s in flavors],
            "count": count,
        },
    )
    if tag_ids:
        connection.execute(
            text(
                "INSERT INTO result_tags SELECT id, (:tags)[(random() * "
                "(array_length(:tags, 1) - 1))::int + 1] FROM result "
                "WHERE random() < 0.5 ON CONFLICT DO NOTHING"
            ),
            {"tags": tag_ids},
        )
