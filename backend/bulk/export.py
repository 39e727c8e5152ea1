"""``flask export``: the database's content as import records (the JSON Lines format).

Catalogue first (users, tags, sites, flavors, benchmarks, each sorted by name), then
results by execution time, then experiments with their configurations, QPS and latencies,
all from one snapshot; results stream through a server-side cursor in chunks of
``EXPORT_CHUNK``, and latencies one job at a time, so memory stays bounded.
"""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any, TextIO

import numpy as np
from sqlalchemy import Connection, select, union

from backend.bulk.catalogue import benchmark_id_by_name, split_benchmark
from backend.bulk.report import BadRecord
from backend.dialects import snapshot_read_options
from backend.errors import NotFound
from backend.extensions import db
from backend.json_provider import dumps
from backend.models import (
    Benchmark,
    Experiment,
    ExperimentConfig,
    Flavor,
    Job,
    LatencyChunk,
    Result,
    Site,
    Tag,
    User,
    results_tags,
)
from backend.models.experiment import experiments_tags

EXPORT_CHUNK = 1000


def export_records(
    *, benchmark: str | None = None, since: datetime | None = None
) -> Iterator[dict[str, Any]]:
    """Yield the database's content as import records: catalogue first, then results.

    Without filters: every user and catalogue item. With ``benchmark`` (``image:tag``)
    and/or ``since`` (upload time, inclusive): the matching results and just the catalogue
    items they refer to, so the output imports on its own. Claims, and results hidden by
    a claim, are left out. Everything is read from one snapshot, results in chunks through
    a server-side cursor.
    """
    with db.engine.connect() as connection:
        connection = connection.execution_options(**snapshot_read_options(connection.dialect.name))
        with connection.begin():
            yield from Exporter(connection, benchmark, since).records()


def write_records(records: Iterable[dict[str, Any]], out: TextIO) -> Counter[str]:
    """Write records as JSON Lines; the counts by type."""
    counts: Counter[str] = Counter()
    for record in records:
        out.write(dumps(record))
        out.write("\n")
        counts[record["type"]] += 1
    return counts


class Exporter:
    def __init__(self, connection: Connection, benchmark: str | None, since: datetime | None):
        self.connection = connection
        self.benchmark = benchmark
        self.since = since
        self.user_refs: dict[uuid.UUID, dict[str, str]] = {}
        self.tag_names: dict[uuid.UUID, str] = {}
        self.flavor_refs: dict[uuid.UUID, tuple[str, str]] = {}
        self.benchmark_names: dict[uuid.UUID, str] = {}
        self.site_names: dict[uuid.UUID, str] = {}

    def records(self) -> Iterator[dict[str, Any]]:
        results = [Result.hidden.is_(False)]
        benchmarks = []
        if self.benchmark is not None:
            benchmark_id = self.connection.scalar(
                benchmark_id_by_name(*_split_benchmark_or_404(self.benchmark))
            )
            if benchmark_id is None:
                raise NotFound(f"No benchmark {self.benchmark}.")
            results.append(Result.benchmark_id == benchmark_id)
            benchmarks.append(Benchmark.id == benchmark_id)
        if self.since is not None:
            results.append(Result.upload_datetime >= self.since)
        filtered = len(results) > 1
        sites, flavors, tags = [], [], []
        if filtered:
            sites.append(Site.id.in_(select(Result.site_id).where(*results)))
            flavors.append(Flavor.id.in_(select(Result.flavor_id).where(*results)))
            tags.append(
                Tag.id.in_(
                    select(results_tags.c.tag_id)
                    .join(Result, Result.id == results_tags.c.result_id)
                    .where(*results)
                )
            )
            if not benchmarks:
                benchmarks.append(Benchmark.id.in_(select(Result.benchmark_id).where(*results)))
        users = []
        if filtered:
            uploaders = union(
                select(Result.uploader_id).where(*results),
                select(Site.uploader_id).where(*sites),
                select(Flavor.uploader_id).where(*flavors),
                select(Benchmark.uploader_id).where(*benchmarks),
            )
            users.append(User.id.in_(uploaders))
        yield from self.users(users)
        yield from self.tags(tags)
        yield from self.sites(sites)
        yield from self.flavors(flavors)
        yield from self.benchmarks(benchmarks)
        yield from self.results(results)
        if not filtered:
            yield from self.experiments()

    def uploader(self, uploader_id: uuid.UUID | None) -> dict[str, str] | None:
        return None if uploader_id is None else self.user_refs[uploader_id]

    def users(self, where: list) -> Iterator[dict[str, Any]]:
        stmt = select(User.id, User.sub, User.iss, User.email).where(*where)
        for row in self.connection.execute(stmt.order_by(User.iss, User.sub)):
            self.user_refs[row.id] = {"sub": row.sub, "iss": row.iss}
            yield {"type": "user", "sub": row.sub, "iss": row.iss, "email": row.email}

    def tags(self, where: list) -> Iterator[dict[str, Any]]:
        stmt = select(Tag.id, Tag.name, Tag.description).where(*where).order_by(Tag.name)
        for row in self.connection.execute(stmt):
            self.tag_names[row.id] = row.name
            yield {"type": "tag", "name": row.name, "description": row.description}

    def sites(self, where: list) -> Iterator[dict[str, Any]]:
        stmt = select(
            Site.id, Site.name, Site.address, Site.description, Site.status, Site.uploader_id
        ).where(*where)
        for row in self.connection.execute(stmt.order_by(Site.name)):
            self.site_names[row.id] = row.name
            yield {
                "type": "site",
                "name": row.name,
                "address": row.address,
                "description": row.description,
                "status": row.status.value,
                "uploader": self.uploader(row.uploader_id),
            }

    def flavors(self, where: list) -> Iterator[dict[str, Any]]:
        stmt = (
            select(
                Flavor.id,
                Site.name.label("site"),
                Flavor.name,
                Flavor.description,
                Flavor.status,
                Flavor.uploader_id,
            )
            .join(Site, Site.id == Flavor.site_id)
            .where(*where)
            .order_by(Site.name, Flavor.name)
        )
        for row in self.connection.execute(stmt):
            self.flavor_refs[row.id] = (row.site, row.name)
            yield {
                "type": "flavor",
                "site": row.site,
                "name": row.name,
                "description": row.description,
                "status": row.status.value,
                "uploader": self.uploader(row.uploader_id),
            }

    def benchmarks(self, where: list) -> Iterator[dict[str, Any]]:
        stmt = select(
            Benchmark.id,
            Benchmark.docker_image,
            Benchmark.docker_tag,
            Benchmark.url,
            Benchmark.description,
            Benchmark.json_schema,
            Benchmark.status,
            Benchmark.uploader_id,
        ).where(*where)
        for row in self.connection.execute(
            stmt.order_by(Benchmark.docker_image, Benchmark.docker_tag)
        ):
            self.benchmark_names[row.id] = f"{row.docker_image}:{row.docker_tag}"
            yield {
                "type": "benchmark",
                "docker_image": row.docker_image,
                "docker_tag": row.docker_tag,
                "url": row.url,
                "description": row.description,
                "json_schema": row.json_schema,
                "status": row.status.value,
                "uploader": self.uploader(row.uploader_id),
            }

    def results(self, where: list) -> Iterator[dict[str, Any]]:
        stmt = (
            select(
                Result.id,
                Result.benchmark_id,
                Result.flavor_id,
                Result.execution_datetime,
                Result.uploader_id,
                Result.json,
            )
            .where(*where)
            .order_by(Result.execution_datetime, Result.id)
        )
        rows = self.connection.execute(stmt, execution_options={"yield_per": EXPORT_CHUNK})
        for chunk in rows.partitions():
            tags = defaultdict(list)
            tag_rows = self.connection.execute(
                select(results_tags.c.result_id, results_tags.c.tag_id).where(
                    results_tags.c.result_id.in_([row.id for row in chunk])
                )
            )
            for result_id, tag_id in tag_rows:
                tags[result_id].append(self.tag_names[tag_id])
            for row in chunk:
                site, flavor = self.flavor_refs[row.flavor_id]
                yield {
                    "type": "result",
                    "benchmark": self.benchmark_names[row.benchmark_id],
                    "site": site,
                    "flavor": flavor,
                    "tags": sorted(tags[row.id]),
                    "execution_datetime": row.execution_datetime.isoformat(),
                    "uploader": self.uploader(row.uploader_id),
                    "json": row.json,
                }

    def experiments(self) -> Iterator[dict[str, Any]]:
        """Experiments by ``experiment_id`` (with their jobs' selectors in posted order),
        then their configurations, then each job's QPS and latencies records, one job's
        samples in memory at a time."""
        jobs = self.connection.execute(
            select(
                Experiment.experiment_id,
                Job.id,
                Job.selector,
                Job.qps,
                Job.sample_count,
                Job.settings,
            )
            .join(Experiment, Experiment.id == Job.experiment_pk)
            .order_by(Experiment.experiment_id, Job.id)
        ).all()
        selectors = defaultdict(list)
        for job in jobs:
            selectors[job.experiment_id].append(job.selector)
        tags = defaultdict(list)
        for pk, tag_id in self.connection.execute(select(experiments_tags)):
            tags[pk].append(self.tag_names[tag_id])
        stmt = select(*Experiment.__table__.c).order_by(Experiment.experiment_id)
        for row in self.connection.execute(stmt):
            flavor = self.flavor_refs[row.flavor_id][1] if row.flavor_id else None
            yield {
                "type": "experiment",
                "experiment_id": row.experiment_id,
                "benchmark": self.benchmark_names.get(row.benchmark_id),
                "site": self.site_names.get(row.site_id),
                "flavor": flavor,
                "tags": sorted(tags[row.id]),
                "jobs": selectors[row.experiment_id],
                "uploader": self.uploader(row.uploader_id),
            }
        configs = (
            select(Experiment.experiment_id, ExperimentConfig.document)
            .join(ExperimentConfig, ExperimentConfig.experiment_pk == Experiment.id)
            .order_by(Experiment.experiment_id)
        )
        for row in self.connection.execute(configs):
            yield {"type": "config", "experiment_id": row.experiment_id, "document": row.document}
        for job in jobs:
            if job.qps is not None:
                yield {
                    "type": "qps",
                    "experiment_id": job.experiment_id,
                    "selector": job.selector,
                    "qps": job.qps,
                }
        for job in jobs:
            if job.sample_count is not None:
                yield self.latencies(job)

    def latencies(self, job: Any) -> dict[str, Any]:
        """One job's latencies record: its samples in posted order, read chunk by chunk."""
        chunks = self.connection.execute(
            select(LatencyChunk.samples)
            .where(LatencyChunk.job_id == job.id)
            .order_by(LatencyChunk.seq),
            execution_options={"yield_per": 2},
        ).scalars()
        samples = np.concatenate([np.frombuffer(data, dtype="<f8") for data in chunks])
        record = {
            "type": "latencies",
            "experiment_id": job.experiment_id,
            "selector": job.selector,
            "latencies": samples.tolist(),
        }
        if job.settings is not None:
            record["settings"] = job.settings
        return record


def _split_benchmark_or_404(reference: str) -> tuple[str, str]:
    try:
        return split_benchmark(reference)
    except BadRecord as error:
        raise NotFound(str(error)) from None
