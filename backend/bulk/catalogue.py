"""The catalogue records of an import (user, tag, site, flavor, benchmark) and the
references by name that later records make to them.

Catalogue items are matched by their natural key and never changed (a line that gives
other values gets a warning); a new item is created through the model (``Site.create``,
...) in ``db.session`` and flushed to learn its id. Only small name → id maps are kept.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

import marshmallow as ma
from sqlalchemy import Select, select

from backend.bulk.report import BadRecord, ImportReport, LineMessage, validation_message
from backend.errors import InvalidArguments
from backend.extensions import db
from backend.models import Benchmark, Flavor, ItemStatus, Site, Tag, User
from backend.models.user import MAX_EMAIL_LENGTH, issuer_key, usable_email
from backend.schemas.benchmarks import CreateBenchmark
from backend.schemas.sites import CreateFlavor, CreateSite
from backend.schemas.tags import CreateTag


class CatalogueRecords:
    """Name → id maps of the catalogue (kept for the whole run) and the handlers of the
    catalogue record kinds; ``jsonl.Importer`` adds the batch and the results."""

    def __init__(
        self,
        report: ImportReport,
        tell: Callable[[LineMessage], None],
        uploader: tuple[str, str] | None,
    ) -> None:
        self.report = report
        self.tell = tell
        self.default_uploader = uploader
        self.users: dict[tuple[str, str], uuid.UUID] = {}
        self.tags: dict[str, uuid.UUID] = {}
        self.sites: dict[str, uuid.UUID] = {}
        self.flavors: dict[tuple[uuid.UUID, str], uuid.UUID] = {}
        self.benchmarks: dict[tuple[str, str], uuid.UUID] = {}
        self.batch_created: Counter[str] = Counter()

    # --- references by name --------------------------------------------------------------

    def _lookup(self, cache: dict, key: Any, query: Callable[[], Select]) -> uuid.UUID | None:
        """The id for ``key`` from the map, else from the database (then remembered)."""
        found = cache.get(key)
        if found is None:
            found = db.session.scalar(query())
            if found is not None:
                cache[key] = found
        return found

    def user_id(self, sub: str, iss: str) -> uuid.UUID | None:
        iss = issuer_key(iss)
        return self._lookup(
            self.users, (sub, iss), lambda: select(User.id).where(User.sub == sub, User.iss == iss)
        )

    def site_id(self, name: Any) -> uuid.UUID:
        found = isinstance(name, str) and self._lookup(
            self.sites, name, lambda: select(Site.id).where(Site.name == name)
        )
        if not found:
            raise BadRecord(f"no site named {name!r}; add a site record before this line")
        return found

    def flavor_id(self, site_name: Any, name: Any) -> uuid.UUID:
        site_id = self.site_id(site_name)
        found = isinstance(name, str) and self._lookup(
            self.flavors,
            (site_id, name),
            lambda: select(Flavor.id).where(Flavor.site_id == site_id, Flavor.name == name),
        )
        if not found:
            raise BadRecord(f"no flavor {name!r} at site {site_name!r}")
        return found

    def benchmark_id(self, reference: Any) -> uuid.UUID:
        image, tag = split_benchmark(reference)
        found = self._lookup(
            self.benchmarks, (image, tag), lambda: benchmark_id_by_name(image, tag)
        )
        if not found:
            raise BadRecord(f"no benchmark {reference!r}; add a benchmark record before this line")
        return found

    def tag_id(self, name: Any) -> uuid.UUID:
        found = isinstance(name, str) and self._lookup(
            self.tags, name, lambda: select(Tag.id).where(Tag.name == name)
        )
        if not found:
            raise BadRecord(f"no tag named {name!r}; add a tag record before this line")
        return found

    def tag_ids(self, record: dict[str, Any]) -> list[uuid.UUID]:
        """The ids of the record's ``tags`` (names; none if absent), each once."""
        names = record.get("tags", [])
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise BadRecord("tags must be a list of tag names")
        return [self.tag_id(name) for name in dict.fromkeys(names)]

    def uploader_id(self, record: dict[str, Any]) -> uuid.UUID | None:
        """The record's ``uploader`` ({sub, iss}; null for none), else the default one."""
        if "uploader" in record:
            reference, origin = record["uploader"], "uploader"
            if reference is None:
                return None
            if not (
                isinstance(reference, dict)
                and reference.keys() == {"sub", "iss"}
                and all(isinstance(v, str) for v in reference.values())
            ):
                raise BadRecord('uploader must be {"sub": "...", "iss": "..."} or null')
            sub, iss = reference["sub"], reference["iss"]
        elif self.default_uploader is not None:
            (sub, iss), origin = self.default_uploader, "--uploader"
        else:
            return None
        found = self.user_id(sub, iss)
        if found is None:
            raise BadRecord(
                f"{origin}: no user with sub {sub!r} and iss {iss!r}; add a user record first"
            )
        return found

    # --- catalogue records -----------------------------------------------------------------

    def _fields(self, schema: ma.Schema, record: dict[str, Any], extra: set[str]) -> dict[str, Any]:
        """The record's fields, validated by the API's own create schema."""
        unknown = record.keys() - set(schema.fields) - extra - {"type"}
        if unknown:
            raise BadRecord(f"unknown field(s) {', '.join(sorted(unknown))}")
        try:
            return schema.load({k: v for k, v in record.items() if k in schema.fields})
        except ma.ValidationError as error:
            raise BadRecord(validation_message(error)) from None

    def _status(self, record: dict[str, Any]) -> dict[str, ItemStatus]:
        if "status" not in record:
            return {}
        try:
            return {"status": ItemStatus(record["status"])}
        except ValueError:
            raise BadRecord("status must be 'approved' or 'on_review'") from None

    def _match_or_create(
        self,
        number: int,
        kind: str,
        label: str,
        existing: Any,
        given: dict[str, Any],
        create: Callable[[], Any],
    ) -> uuid.UUID:
        """Keep a stored item as it is (warning about fields the line gives otherwise), or
        create the item and flush it to learn its id."""
        if existing is not None:
            differing = [name for name, value in given.items() if getattr(existing, name) != value]
            if differing:
                self.tell(
                    LineMessage(
                        number,
                        f"{kind} {label} exists with other {', '.join(differing)}; "
                        "kept the stored values",
                        is_error=False,
                    )
                )
            self.report.matched[kind] += 1
            return existing.id
        item = create()
        db.session.flush()
        self.batch_created[kind] += 1
        return item.id

    def user(self, number: int, record: dict[str, Any]) -> None:
        if record.keys() - {"type", "sub", "iss", "email"}:
            raise BadRecord("a user record has exactly the fields type, sub, iss and email")
        values = {name: record.get(name) for name in ("sub", "iss", "email")}
        for name, value in values.items():
            if not isinstance(value, str) or not value.strip() or len(value) > 255:
                raise BadRecord(f"{name} must be a non-empty string of at most 255 characters")
        try:
            usable_email(values["email"])
        except InvalidArguments:
            raise BadRecord(
                f"email must be one plain address (name@example.org) of at most "
                f"{MAX_EMAIL_LENGTH} ASCII characters: mail to it would fail"
            ) from None
        sub, iss = values["sub"], issuer_key(values["iss"])
        self.users[(sub, iss)] = self._match_or_create(
            number,
            "user",
            f"{sub} of {iss}",
            User.find(sub, iss),
            {"email": values["email"]},
            lambda: _add(User(sub=sub, iss=iss, email=values["email"])),
        )

    def tag(self, number: int, record: dict[str, Any]) -> None:
        fields = self._fields(CreateTag(), record, extra=set())
        name = fields["name"]
        self.tags[name] = self._match_or_create(
            number,
            "tag",
            repr(name),
            db.session.scalar(select(Tag).where(Tag.name == name)),
            fields,
            lambda: Tag.create(**fields),
        )

    def site(self, number: int, record: dict[str, Any]) -> None:
        fields = self._fields(CreateSite(), record, extra={"status", "uploader"})
        status = self._status(record)
        name = fields["name"]
        self.sites[name] = self._match_or_create(
            number,
            "site",
            repr(name),
            db.session.scalar(select(Site).where(Site.name == name)),
            fields | status,
            lambda: Site.create(
                **{"status": ItemStatus.approved, **fields, **status},
                uploader_id=self.uploader_id(record),
            ),
        )

    def flavor(self, number: int, record: dict[str, Any]) -> None:
        fields = self._fields(CreateFlavor(), record, extra={"site", "status", "uploader"})
        status = self._status(record)
        site_id = self.site_id(record.get("site"))
        name = fields["name"]
        self.flavors[(site_id, name)] = self._match_or_create(
            number,
            "flavor",
            f"{name!r} of site {record['site']!r}",
            db.session.scalar(select(Flavor).where(Flavor.site_id == site_id, Flavor.name == name)),
            fields | status,
            lambda: Flavor.create(
                **{"status": ItemStatus.approved, **fields, **status},
                site_id=site_id,
                uploader_id=self.uploader_id(record),
            ),
        )

    def benchmark(self, number: int, record: dict[str, Any]) -> None:
        fields = self._fields(CreateBenchmark(), record, extra={"status", "uploader"})
        status = self._status(record)
        key = (fields["docker_image"], fields["docker_tag"])
        self.benchmarks[key] = self._match_or_create(
            number,
            "benchmark",
            ":".join(key),
            db.session.scalar(
                select(Benchmark).where(
                    Benchmark.docker_image == key[0], Benchmark.docker_tag == key[1]
                )
            ),
            fields | status,
            lambda: Benchmark.create(
                **{"status": ItemStatus.approved, **fields, **status},
                uploader_id=self.uploader_id(record),
            ),
        )


def _add(instance: Any) -> Any:
    db.session.add(instance)
    return instance


def benchmark_id_by_name(image: str, tag: str) -> Select:
    return select(Benchmark.id).where(Benchmark.docker_image == image, Benchmark.docker_tag == tag)


def split_benchmark(reference: Any) -> tuple[str, str]:
    """``image:tag`` → (image, tag); the image may hold a registry port (``host:5000/x``)."""
    if isinstance(reference, str):
        image, _, tag = reference.rpartition(":")
        if image and tag and "/" not in tag:
            return image, tag
    raise BadRecord(f"benchmark must be 'image:tag', not {reference!r}")
