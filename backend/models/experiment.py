"""Experiments: MLPerf-style sweeps of jobs, each with one QPS and one latency list.

The API keeps the storage service it replaces (the seed of issue 13): an experiment is
named by its client-chosen ``experiment_id`` and also has the integer ``id`` that service
answered with; a job is an (experiment, selector) pair.

Latencies are stored packed, not a row per sample: float64 little-endian, in chunks of
``CHUNK_SAMPLES`` samples per ``latency_chunks`` row, in the order they were posted. At
65,536 samples a chunk is 512 KiB, small enough that a GET streams chunk by chunk (one in
memory at a time) and large enough that the per-row overhead is noise: measured on
PostgreSQL at 8.3 bytes per sample (the column is stored uncompressed,
``STORAGE EXTERNAL``: random floats do not compress, and trying costs time on every write).
Statistics of each job are computed when its latencies are written
(``backend.latency_stats``) and stored beside them, as are those of all samples merged but
for the merged percentiles: these need every sample, and reading 10,000,000 samples back
from PostgreSQL took 1.6 s here, more than the whole 1-second budget of a write. They are
completed just after the write (``backend.routes.experiment_access.complete_merged_stats``)
and stored, so a reader gets stored numbers; one who asks in the seconds before gets them
computed from the samples.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import (
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    UniqueConstraint,
    Uuid,
    insert,
    select,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, declared_attr, lazyload, mapped_column, relationship

from backend.dialects import JsonDocument
from backend.errors import Conflict, NotFound
from backend.extensions import db
from backend.latency_stats import DEFAULT_PERCENTILES, combine, streamed_percentiles, summarize
from backend.models.tags import HasTags, Tag
from backend.models.types import UTCDateTime, utc_now
from backend.models.uploader import HasUploader
from backend.models.user import User

#: Samples per stored chunk (8 bytes each).
CHUNK_SAMPLES = 65536

experiments_tags = Table(
    "experiments_tags",
    db.metadata,
    Column(
        "experiment_pk",
        Integer,
        ForeignKey("experiments.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("tag_id", Uuid, ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True),
    Index("ix_experiments_tags_tag_id_experiment_pk", "tag_id", "experiment_pk"),
)


class Experiment(HasTags, HasUploader, db.Model):
    """A sweep of jobs (one per selector) that an ML benchmarking harness ran together."""

    __tablename__ = "experiments"
    resource_type = "experiment"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    experiment_id: Mapped[str] = mapped_column(String(200), nullable=False, unique=True)
    benchmark_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("benchmarks.id", ondelete="SET NULL"), index=True
    )
    site_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("sites.id", ondelete="SET NULL"), index=True
    )
    flavor_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("flavors.id", ondelete="SET NULL"), index=True
    )
    created: Mapped[datetime] = mapped_column(
        UTCDateTime, nullable=False, default=utc_now, index=True
    )
    #: Statistics over all samples of all jobs (``backend.latency_stats``), or None.
    stats: Mapped[Any | None] = mapped_column(JsonDocument)

    config: Mapped[ExperimentConfig | None] = relationship(
        back_populates="experiment", cascade="all, delete-orphan", passive_deletes=True
    )
    jobs: Mapped[list[Job]] = relationship(
        back_populates="experiment",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="Job.id",
    )

    @declared_attr
    def tags(cls) -> Mapped[list[Tag]]:
        return relationship(Tag, secondary=experiments_tags, lazy="selectin", order_by=Tag.name)

    @property
    def config_id(self) -> int | None:
        return self.config.id if self.config is not None else None

    @classmethod
    def get_or_404(cls, experiment_id: str, options: Sequence[Any] = ()) -> Experiment:
        """The experiment named ``experiment_id`` (loaded with ``options``), or NotFound."""
        statement = select(cls).where(cls.experiment_id == experiment_id).options(*options)
        experiment = db.session.scalar(statement)
        if experiment is None:
            raise NotFound(f"No experiment with id '{experiment_id}'.")
        return experiment

    @classmethod
    def get_or_create(cls, experiment_id: str, uploader: User) -> Experiment:
        """The experiment named ``experiment_id``; made for ``uploader`` if it does not exist
        (as in the seed, an experiment comes into being with its first write). Of two
        requests creating the same one at once, the second uses the first's."""
        # Its tags are loaded only if used: a write to the experiment never does (a query
        # less for ``POST /qps``).
        statement = select(cls).where(cls.experiment_id == experiment_id)
        experiment = db.session.scalar(statement.options(lazyload(cls.tags)))
        if experiment is not None:
            return experiment
        try:
            with db.session.begin_nested():
                experiment = cls(experiment_id=experiment_id, uploader=uploader)
                db.session.add(experiment)
        except IntegrityError:
            return cls.get_or_404(experiment_id)
        return experiment

    def job(self, selector: str) -> Job:
        """The job ``selector`` of this experiment, made if new. Call with the experiment
        locked (``unit_of_work.lock``): job writes of one experiment then come one at a
        time, so each sees the jobs the previous one wrote. A new job is inserted at the
        next flush, with what was recorded in it by then (its QPS in one INSERT)."""
        job = db.session.scalar(
            select(Job).where(Job.experiment_pk == self.id, Job.selector == selector)
        )
        if job is None:
            job = Job(experiment=self, selector=selector)
            db.session.add(job)
        return job

    def job_or_404(self, selector: str) -> Job:
        job = db.session.scalar(
            select(Job).where(Job.experiment_pk == self.id, Job.selector == selector)
        )
        if job is None:
            raise NotFound(f"Experiment '{self.experiment_id}' has no job '{selector}'.")
        return job

    def sample_count(self) -> int:
        return sum(job.sample_count or 0 for job in self.jobs)

    def load_samples(self) -> np.ndarray | None:
        """All samples of all jobs, job after job (by id) in posted order, in one buffer
        of exactly their size; None if there are none."""
        jobs = [job for job in self.jobs if job.sample_count]
        return gather_samples(jobs) if jobs else None

    def refresh_stats(self) -> None:
        """Bring the statistics over all samples up to date after a job's latencies were
        written, from the jobs' statistics alone (``latency_stats.combine``): cheap at any
        size. The merged percentiles need every sample; they stay pending (None) until
        ``complete_stats`` reads them, unless the experiment has one job."""
        jobs = [job.stats for job in self.jobs if job.stats is not None]
        self.stats = combine(jobs) if jobs else None

    @property
    def stats_pending(self) -> bool:
        return self.stats is not None and self.stats["percentiles"] is None

    def iter_chunks(self) -> Iterator[np.ndarray]:
        """The samples of all jobs chunk by chunk, job after job (by id), posted order."""
        for job in self.jobs:
            if job.sample_count:
                yield from job.iter_chunks()

    def percentiles(self, keys: Sequence[str] = DEFAULT_PERCENTILES) -> dict:
        """Percentiles over all samples, read chunk by chunk (never all in memory)."""
        return streamed_percentiles(self.iter_chunks, self.sample_count(), keys)

    def complete_stats(self) -> None:
        """Store the pending merged percentiles (call with the experiment locked)."""
        if self.stats_pending:
            self.stats = {**self.stats, "percentiles": self.percentiles()}

    def __repr__(self) -> str:
        return f"<Experiment {self.experiment_id!r}>"


class ExperimentConfig(db.Model):
    """The configuration document of an experiment (any JSON object), with the integer id
    the seed's ``POST /config`` answered with."""

    __tablename__ = "experiment_configs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    experiment_pk: Mapped[int] = mapped_column(
        Integer, ForeignKey("experiments.id", ondelete="CASCADE"), nullable=False, unique=True
    )
    document: Mapped[Any] = mapped_column(JsonDocument, nullable=False)
    upload_datetime: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utc_now)

    experiment: Mapped[Experiment] = relationship(back_populates="config")


class Job(db.Model):
    """One job of an experiment: its QPS and its latency list, each written once."""

    __tablename__ = "experiment_jobs"
    __table_args__ = (UniqueConstraint("experiment_pk", "selector"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    experiment_pk: Mapped[int] = mapped_column(
        Integer, ForeignKey("experiments.id", ondelete="CASCADE"), nullable=False
    )
    selector: Mapped[str] = mapped_column(String(200), nullable=False)
    qps: Mapped[float | None] = mapped_column(Float)
    #: Samples stored in ``latency_chunks``; None until the latencies are posted.
    sample_count: Mapped[int | None] = mapped_column(Integer)
    #: Statistics of the job's samples (``backend.latency_stats``), or None.
    stats: Mapped[Any | None] = mapped_column(JsonDocument)
    #: The settings of the run that produced the job (a LoadGen run's), or None.
    settings: Mapped[Any | None] = mapped_column(JsonDocument)
    created: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utc_now)

    experiment: Mapped[Experiment] = relationship(back_populates="jobs")

    @property
    def name(self) -> str:
        return f"({self.experiment.experiment_id}, {self.selector})"

    def record_qps(self, qps: float) -> None:
        """Set the job's QPS; Conflict if it has one (a job's results are written once)."""
        if self.qps is not None:
            raise Conflict(
                f"The job {self.name} already has a QPS ({self.qps}); it is kept. Delete "
                "the experiment to write it again."
            )
        self.qps = qps

    def record_latencies(self, samples: np.ndarray, settings: Any = None) -> None:
        """Store ``samples`` (float64, checked) packed in chunks, with their statistics.

        Conflict if the job has latencies already. ``samples`` is reordered in place by
        the statistics once stored. The experiment's merged statistics are the caller's
        to refresh (``Experiment.refresh_stats``), once per request.
        """
        if self.sample_count is not None:
            raise Conflict(
                f"The job {self.name} already has {self.sample_count:,} latencies; they are "
                "kept. Delete the experiment to write them again."
            )
        if self.id is None:
            db.session.flush()  # a new job: its id is the chunks' key
        packed = samples.astype("<f8", copy=False)
        for seq, start in enumerate(range(0, packed.size, CHUNK_SAMPLES)):
            # A row per statement: one multi-row INSERT of a million samples held the
            # escaped text of all of them (16 MB, copied more than once) at the same time.
            db.session.execute(
                insert(LatencyChunk),
                {
                    "job_id": self.id,
                    "seq": seq,
                    "samples": packed[start : start + CHUNK_SAMPLES].tobytes(),
                },
            )
        self.sample_count = int(samples.size)
        self.settings = settings
        self.stats = summarize(samples)

    def iter_chunks(self) -> Iterator[np.ndarray]:
        """The job's samples chunk by chunk in posted order; one chunk in memory at a time
        (a server-side cursor on PostgreSQL)."""
        statement = (
            select(LatencyChunk.samples)
            .where(LatencyChunk.job_id == self.id)
            .order_by(LatencyChunk.seq)
            .execution_options(yield_per=2)
        )
        for data in db.session.scalars(statement):
            yield np.frombuffer(data, dtype="<f8")

    def percentiles(self, keys: Sequence[str] = DEFAULT_PERCENTILES) -> dict:
        """Percentiles of the job's samples, read chunk by chunk."""
        return streamed_percentiles(self.iter_chunks, self.sample_count or 0, keys)

    def load_samples(self) -> np.ndarray:
        """All samples of the job in posted order, in a buffer of their size."""
        return gather_samples([self])

    def __repr__(self) -> str:
        return f"<Job {self.selector!r} of experiment {self.experiment_pk}>"


def gather_samples(jobs: list[Job]) -> np.ndarray:
    """The samples of ``jobs``, one after the other in posted order, in one buffer of
    exactly their size (no intermediate copies: chunk by chunk from the database)."""
    buffer = np.empty(sum(job.sample_count or 0 for job in jobs), dtype=np.float64)
    offset = 0
    for job in jobs:
        for samples in job.iter_chunks():
            buffer[offset : offset + samples.size] = samples
            offset += samples.size
    return buffer


class LatencyChunk(db.Model):
    """Up to ``CHUNK_SAMPLES`` latencies of a job, float64 little-endian, in posted order."""

    __tablename__ = "latency_chunks"

    job_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("experiment_jobs.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    samples: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
