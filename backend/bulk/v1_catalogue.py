"""Users, tags and the catalogue of a v1 database (see ``v1_source``), ids kept.

These tables are small, so they are read whole, compared with what this database holds
and written in one transaction through ``db.session`` before any result: new rows are
inserted as they are (v1 accepted them; a benchmark schema this service would refuse is
kept with a warning), stored ones keep their fields but follow v1's status (a submission
approved since the last run) and users v1's email (v1 refreshes it from the token).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any, NamedTuple

from sqlalchemy import Connection, String, insert, select, text, update
from sqlalchemy.orm import Session, lazyload

from backend.bulk.report import ImportReport
from backend.errors import DomainError
from backend.json_provider import loads
from backend.models import Benchmark, Flavor, ItemStatus, Site, Tag, User
from backend.models.benchmark import check_json_schema
from backend.models.user import issuer_key


class V1SourceRefused(DomainError):
    """The source is not a v1.2.x database this command can read."""


_QUERIES = {
    "user": 'SELECT sub, iss, email, registration_datetime FROM "user" ORDER BY iss, sub',
    "tag": "SELECT id::text, name, description FROM tag ORDER BY name",
    "site": "SELECT id::text, uploader_sub, uploader_iss, upload_datetime, status::text, "
    "name, address, description FROM site ORDER BY upload_datetime, id",
    "flavor": "SELECT id::text, uploader_sub, uploader_iss, upload_datetime, status::text, "
    "name, description, site_id::text FROM flavor ORDER BY upload_datetime, id",
    "benchmark": "SELECT id::text, uploader_sub, uploader_iss, upload_datetime, status::text, "
    "docker_image, docker_tag, json_schema::text, description, url FROM benchmark "
    "ORDER BY upload_datetime, id",
}


def read_catalogue(source: Connection, tell: Callable[..., None]) -> CatalogueCopy:
    """Read the v1 users, tags, sites, flavors and benchmarks (not yet stored)."""
    rows = {kind: source.execute(text(sql)).all() for kind, sql in _QUERIES.items()}
    return CatalogueCopy(rows, tell)


class StoredFlavor(NamedTuple):
    """A stored flavor: its id and site, and the site v1 gives it (results name both)."""

    id: uuid.UUID
    site_id: uuid.UUID
    v1_site_id: str


class CatalogueCopy:
    """The v1 catalogue and, once ``store`` ran, what results need to refer to it: user
    ids by (sub, iss), tag ids, and the stored benchmarks and flavors by v1 id."""

    def __init__(self, rows: dict[str, list[Any]], tell: Callable[..., None]) -> None:
        self.source = rows
        self.tell = tell
        self.rows = sum(len(kind_rows) for kind_rows in rows.values())
        self.users: dict[tuple[str, str], uuid.UUID] = {}
        self.tags: dict[str, uuid.UUID] = {}
        self.benchmarks: dict[str, Benchmark] = {}
        self.flavors: dict[str, StoredFlavor] = {}

    def user_id(self, sub: str, iss: str) -> uuid.UUID | None:
        return self.users.get((sub, issuer_key(iss)))

    def tag_ids(self, v1_ids: Iterable[str]) -> list[uuid.UUID]:
        return [self.tags[i] for i in v1_ids if i in self.tags]

    def store(self, session: Session, report: ImportReport, *, dry_run: bool) -> None:
        """Insert what is new, bring status and email up to date; commit unless
        ``dry_run`` (then the caller rolls back)."""
        self.session = session
        self.report = report
        self._users()
        self._tags()
        sites = self._items(Site, "site", self.source["site"], self._site)
        self._items(Flavor, "flavor", self.source["flavor"], self._flavor, sites)
        self._items(Benchmark, "benchmark", self.source["benchmark"], self._benchmark)
        session.flush()
        self._load_objects()
        if not dry_run:
            session.commit()

    # --- users and tags ---------------------------------------------------------------------

    def _users(self) -> None:
        stored = {
            (row.sub, row.iss): (row.id, row.email)
            for row in self.session.execute(select(User.id, User.sub, User.iss, User.email))
        }
        new = []
        for sub, iss, email, registered in self.source["user"]:
            key = (sub, issuer_key(iss))
            if key in stored:
                self.users[key], stored_email = stored[key]
                self.report.matched["user"] += 1
                if stored_email != email:
                    self.session.execute(
                        update(User).where(User.id == self.users[key]).values(email=email)
                    )
                    self.report.created["email change"] += 1
                continue
            row = {"id": uuid.uuid4(), "sub": key[0], "iss": key[1], "email": email}
            if self._too_long(User, row, f"user ({sub}, {iss})"):
                continue
            self.users[key] = row["id"]
            new.append(row | {"registration_datetime": utc(registered)})
        self._insert(User, "user", new)

    def _tags(self) -> None:
        by_name = dict(self.session.execute(select(Tag.name, Tag.id)).all())
        new = []
        for id_, name, description in self.source["tag"]:
            tag_id = uuid.UUID(id_)
            if name in by_name:
                self.tags[id_] = by_name[name]
                self.report.matched["tag"] += 1
                if by_name[name] != tag_id:
                    self.tell(
                        f"tag {id_}",
                        f"a tag named {name!r} is stored here with id {by_name[name]}; "
                        "results get that tag",
                        is_error=False,
                    )
                continue
            row = {"id": tag_id, "name": name, "description": description}
            if not self._too_long(Tag, row, f"tag {id_}"):
                self.tags[id_] = tag_id
                new.append(row)
        self._insert(Tag, "tag", new)

    # --- sites, flavors, benchmarks -----------------------------------------------------------

    def _items(
        self,
        model: type,
        kind: str,
        rows: list[Any],
        fields: Callable[..., dict[str, Any] | None],
        *context: Any,
    ) -> set[str]:
        """Store the new ``kind`` rows; the v1 ids now stored (new or not)."""
        stored = dict(self.session.execute(select(model.id, model.status)).all())
        new, present = [], set()
        for row in rows:
            id_, sub, iss, uploaded, status = row[:5]
            where = f"{kind} {id_}"
            status = ItemStatus(status or "on_review")
            if uuid.UUID(id_) in stored:
                present.add(id_)
                self.report.matched[kind] += 1
                if stored[uuid.UUID(id_)] != status:
                    self.session.execute(
                        update(model).where(model.id == uuid.UUID(id_)).values(status=status)
                    )
                    self.report.created[f"{kind} status change"] += 1
                continue
            values = fields(where, row[5:], *context)
            if values is None:
                continue
            item = {
                "id": uuid.UUID(id_),
                "upload_datetime": utc(uploaded),
                "status": status,
                "uploader_id": self._uploader(where, sub, iss),
                **values,
            }
            if self._too_long(model, item, where) or self._taken(model, item, where):
                continue
            present.add(id_)
            new.append(item)
        self._insert(model, kind, new)
        return present

    def _site(self, where: str, row: Any) -> dict[str, Any]:
        name, address, description = row
        return {"name": name, "address": address, "description": description}

    def _flavor(self, where: str, row: Any, sites: set[str]) -> dict[str, Any] | None:
        name, description, site_id = row
        if site_id not in sites:
            self.tell(where, f"skipped: its site {site_id} was not imported", is_error=True)
            return None
        return {"name": name, "description": description, "site_id": uuid.UUID(site_id)}

    def _benchmark(self, where: str, row: Any) -> dict[str, Any]:
        image, tag, schema_text, description, url = row
        schema = loads(schema_text)
        try:
            check_json_schema(schema)
        except DomainError as problem:
            self.tell(
                where,
                f"its JSON Schema is refused here ({problem.message}); stored as v1 had it, "
                "but no result can be checked against it until an admin replaces it",
                is_error=False,
            )
        return {
            "docker_image": image,
            "docker_tag": tag,
            "json_schema": schema,
            "description": description,
            "url": url,
        }

    def _uploader(self, where: str, sub: str | None, iss: str | None) -> uuid.UUID | None:
        found = self.user_id(sub, iss) if sub and iss else None
        if found is None:
            self.tell(
                where,
                f"its uploader ({sub}, {iss}) was not imported; stored without",
                is_error=False,
            )
        return found

    def _taken(self, model: type, item: dict[str, Any], where: str) -> bool:
        """Whether another stored item has this one's natural key (then it is skipped)."""
        if model is Site:
            key = [Site.name == item["name"]]
        elif model is Flavor:
            key = [Flavor.site_id == item["site_id"], Flavor.name == item["name"]]
        else:
            key = [
                Benchmark.docker_image == item["docker_image"],
                Benchmark.docker_tag == item["docker_tag"],
            ]
        other = self.session.scalar(select(model.id).where(*key))
        if other is not None:
            self.tell(
                where, f"skipped: {model.resource_type} {other} has its name here", is_error=True
            )
        return other is not None

    # --- helpers ------------------------------------------------------------------------------

    def _too_long(self, model: type, row: dict[str, Any], where: str) -> bool:
        for column in model.__table__.columns:
            value = row.get(column.name)
            length = (
                getattr(column.type, "length", None) if isinstance(column.type, String) else None
            )
            if length and isinstance(value, str) and len(value) > length:
                self.tell(
                    where,
                    f"skipped: its {column.name} is longer than the {length} characters "
                    "this service stores",
                    is_error=True,
                )
                return True
        return False

    def _insert(self, model: type, kind: str, rows: list[dict[str, Any]]) -> None:
        if rows:
            self.session.execute(insert(model), rows)
            self.report.created[kind] += len(rows)

    def _load_objects(self) -> None:
        """The stored benchmarks and flavors (with their sites) that results refer to."""
        ids = [uuid.UUID(row[0]) for row in self.source["benchmark"]]
        for benchmark in self.session.scalars(
            select(Benchmark).options(lazyload("*")).where(Benchmark.id.in_(ids))
        ):
            self.benchmarks[str(benchmark.id)] = benchmark
        ids = [uuid.UUID(row[0]) for row in self.source["flavor"]]
        v1_sites = {row[0]: row[-1] for row in self.source["flavor"]}
        for flavor_id, site_id in self.session.execute(
            select(Flavor.id, Flavor.site_id).where(Flavor.id.in_(ids))
        ):
            self.flavors[str(flavor_id)] = StoredFlavor(
                flavor_id, site_id, v1_sites[str(flavor_id)]
            )


def utc(value: datetime) -> datetime:
    """v1 stores UTC without a zone."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value
