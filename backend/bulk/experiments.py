"""The experiment records of an import: ``experiment``, ``config``, ``qps`` and
``latencies`` (issue 13), referring to each other by ``experiment_id``.

Jobs are stored the way the API stores them, by the same code: the bodies are checked by
the API's schemas (``QpsBody``, ``LatenciesBody``: the same id, selector and latency
rules), a job's results by ``Job.record_qps`` and ``Job.record_latencies`` (packing and
statistics; a second write to a job is an error, as the API's 409), the configuration by
``experiment_jobs.store_config``. The merged statistics of the experiments a batch gave
latencies are brought up to date once per batch, before its commit (``end_batch``).
"""

from __future__ import annotations

from typing import Any

import marshmallow as ma
import orjson
from sqlalchemy import select
from werkzeug.exceptions import RequestEntityTooLarge

from backend.bulk.catalogue import CatalogueRecords
from backend.bulk.report import BadRecord, validation_message
from backend.experiment_jobs import store_config
from backend.extensions import db
from backend.json_provider import _has_long_digit_run, loads_request
from backend.models import Experiment, Tag
from backend.models.benchmark import canonical_json
from backend.schemas.experiments import ExperimentIdField, LatenciesBody, QpsBody, SelectorField

EXPERIMENT_KEYS = frozenset(
    {"type", "experiment_id", "benchmark", "site", "flavor", "tags", "jobs", "uploader"}
)

#: How an export writes a latencies line: such lines are read the fast way (``loads_line``).
LATENCIES_LINE = b'{"type":"latencies",'

_experiment_id = ExperimentIdField()
_selector = SelectorField()


class ExperimentRecords(CatalogueRecords):
    """Handlers of the experiment record kinds; experiments are found by ``experiment_id``
    (in the file or the database) and kept as primary keys across batches."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.experiments: dict[str, int] = {}
        #: Experiments given latencies in this batch: their merged statistics are due.
        self.batch_experiments: set[int] = set()

    def experiment_of(self, record: dict[str, Any]) -> Experiment:
        """The experiment the record names, stored or earlier in the file."""
        name = record.get("experiment_id")
        pk = self.experiments.get(name) if isinstance(name, str) else None
        experiment = (
            db.session.get(Experiment, pk)
            if pk is not None
            else db.session.scalar(select(Experiment).where(Experiment.experiment_id == name))
        )
        if experiment is None:
            raise BadRecord(f"no experiment {name!r}; add an experiment record before this line")
        self.experiments[name] = experiment.id
        return experiment

    def complete_experiment_stats(self) -> None:
        """Refresh the merged statistics of the batch's experiments (call before commit)."""
        for pk in self.batch_experiments:
            experiment = db.session.get(Experiment, pk)
            experiment.refresh_stats()
            experiment.complete_stats()
        self.batch_experiments.clear()

    def experiment(self, number: int, record: dict[str, Any]) -> None:
        """Match a stored experiment (kept as it is) or create it with its catalogue links,
        tags and (in order, as an export lists them) its jobs."""
        if not EXPERIMENT_KEYS.issuperset(record):
            raise BadRecord(
                f"unknown field(s) {', '.join(sorted(record.keys() - EXPERIMENT_KEYS))}"
            )
        name = _load(_experiment_id, record.get("experiment_id"), "experiment_id")
        links = {"benchmark_id": None, "site_id": None, "flavor_id": None}
        if record.get("benchmark") is not None:
            links["benchmark_id"] = self.benchmark_id(record["benchmark"])
        if record.get("site") is not None:
            links["site_id"] = self.site_id(record["site"])
        if record.get("flavor") is not None:
            if record.get("site") is None:
                raise BadRecord("flavor needs the site it belongs to (site)")
            links["flavor_id"] = self.flavor_id(record["site"], record["flavor"])
        tag_ids = self.tag_ids(record)
        selectors = record.get("jobs", [])
        if not isinstance(selectors, list):
            raise BadRecord("jobs must be a list of selectors")
        selectors = [_load(_selector, s, "jobs") for s in dict.fromkeys(selectors)]
        given = {**links, "uploader_id": self.uploader_id(record)}

        def create() -> Experiment:
            experiment = Experiment(experiment_id=name, **given)
            db.session.add(experiment)
            db.session.flush()
            experiment.tags = [self._tag(tag_id) for tag_id in tag_ids]
            for selector in selectors:
                experiment.job(selector)
            return experiment

        self.experiments[name] = self._match_or_create(
            number,
            "experiment",
            repr(name),
            db.session.scalar(select(Experiment).where(Experiment.experiment_id == name)),
            given,
            create,
        )

    def config(self, number: int, record: dict[str, Any]) -> None:
        """An experiment's configuration: stored if it has none, matched if it has this
        one; another one is an error (an import changes nothing stored)."""
        if record.keys() != {"type", "experiment_id", "document"}:
            raise BadRecord(
                "a config record has exactly the fields type, experiment_id and document"
            )
        document = record["document"]
        if not isinstance(document, dict):
            raise BadRecord("document must be a JSON object")
        experiment = self.experiment_of(record)
        if experiment.config is not None:
            if canonical_json(experiment.config.document) != canonical_json(document):
                raise BadRecord(
                    f"experiment {experiment.experiment_id!r} has another configuration; "
                    "kept the stored one"
                )
            self.report.matched["config"] += 1
            return
        store_config(experiment, document)
        db.session.flush()
        self.batch_created["config"] += 1

    def qps(self, number: int, record: dict[str, Any]) -> None:
        """A job's QPS, checked like ``POST /qps``; an error if the job has one."""
        body = _load_body(QpsBody(), record)
        experiment = self.experiment_of(record)
        experiment.job(body["selector"]).record_qps(body["qps"])
        self.batch_created["qps"] += 1

    def latencies(self, number: int, record: dict[str, Any]) -> None:
        """A job's whole latency list (and the run's ``settings``, if any), checked like
        ``POST /latencies``; an error if the job has latencies."""
        settings = record.get("settings")
        if settings is not None and not isinstance(settings, dict):
            raise BadRecord("settings must be a JSON object or null")
        body = _load_body(LatenciesBody(), {k: v for k, v in record.items() if k != "settings"})
        experiment = self.experiment_of(record)
        experiment.job(body["selector"]).record_latencies(body["latencies"], settings=settings)
        self.batch_experiments.add(experiment.id)
        self.batch_created["latencies"] += 1

    def _tag(self, tag_id: Any) -> Tag:
        return db.session.get(Tag, tag_id)


def loads_line(line: str | bytes) -> Any:
    """``loads_request``, but a latencies record as an export writes it is read by orjson
    even though its list holds long runs of digits (0.0067379469990854675): the standard
    library that ``loads_request`` hands such text to took 3 s for a million samples,
    orjson 0.1 s. That is exact for the list, whose numbers all become doubles; the rest
    of the line still goes to ``loads_request`` if it holds a long run of digits (a big
    integer in ``settings``), as does anything orjson refuses (a NaN, to be reported)."""
    data = line.encode() if isinstance(line, str) else line
    if data.startswith(LATENCIES_LINE):
        start = data.find(b'"latencies":[')
        end = data.find(b"]", start)
        if start > 0 and end > 0 and not _has_long_digit_run(data[:start] + data[end:]):
            try:
                return orjson.loads(data)
            except orjson.JSONDecodeError:
                pass
    return loads_request(data)


def _load(field: ma.fields.Field, value: Any, name: str) -> Any:
    try:
        return field.deserialize(value)
    except ma.ValidationError as error:
        raise BadRecord(f"{name}: {validation_message(error)}") from None


def _load_body(schema: ma.Schema, record: dict[str, Any]) -> dict[str, Any]:
    """The record checked by the API's body schema (``type`` aside)."""
    try:
        return schema.load({k: v for k, v in record.items() if k != "type"})
    except ma.ValidationError as error:
        raise BadRecord(validation_message(error)) from None
    except RequestEntityTooLarge as error:
        raise BadRecord(str(error.description)) from None
