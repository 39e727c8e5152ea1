"""Experiment, job (QPS and latencies), configuration and statistics bodies and arguments.

The seed's bodies are kept as they are (``experiment_id``, ``selector``, ``qps``,
``latencies``). A latency list is parsed into a numpy array by one field
(``LatencyList``): marshmallow's per-item Float field would take seconds for a million
samples, the vectorised checks take milliseconds and still name the first bad index.
"""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import current_app
from marshmallow import fields, validate
from werkzeug.exceptions import RequestEntityTooLarge

from backend.latency_stats import (
    DEFAULT_PERCENTILES,
    METHODS,
    LatencyError,
    percentile_key,
    samples_from_list,
)
from backend.schemas.common import (
    AwareDateTime,
    PaginationArgs,
    Schema,
    SearchArgs,
    SortBy,
    page_of,
)
from backend.schemas.results import (
    Aggregate,
    GroupingArgs,
    aggregate_sort_by,
    group_by_field,
)
from backend.schemas.tags import Tag

#: Longest experiment id or selector.
NAME_MAX = 200
EXPERIMENT_SORT_FIELDS = ["experiment_id", "created", "id"]


class Name(fields.String):
    """An experiment id or selector: 1 to 200 printable characters; ``forbidden``
    characters refused (an experiment id is a path segment: no ``/`` or ``:``)."""

    def __init__(self, what: str, forbidden: str = "", **kwargs: Any) -> None:
        self.what = what
        self.forbidden = forbidden
        rule = f"1 to {NAME_MAX} printable characters"
        if forbidden:
            rule += ", without " + " or ".join(f"'{c}'" for c in forbidden)
        kwargs.setdefault("metadata", {"description": f"The {what}: {rule}."})
        super().__init__(**kwargs)

    def _deserialize(self, value: Any, attr, data, **kwargs) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        if not text:
            raise ma.ValidationError(f"The {self.what} is empty.")
        if len(text) > NAME_MAX:
            raise ma.ValidationError(
                f"The {self.what} is {len(text)} characters long; at most {NAME_MAX}."
            )
        if not text.isprintable():
            raise ma.ValidationError(
                f"The {self.what} holds a character that is not printable (a control "
                "character, a line break or a tab)."
            )
        for character in self.forbidden:
            if character in text:
                raise ma.ValidationError(f"The {self.what} must not contain '{character}'.")
        return text


def ExperimentIdField(**kwargs: Any) -> Name:
    return Name("experiment id", forbidden="/:", **kwargs)


def SelectorField(**kwargs: Any) -> Name:
    return Name("selector", **kwargs)


class LatencyList(fields.Field):
    """A list of latencies (finite numbers >= 0), loaded as a float64 numpy array; at most
    ``LATENCIES_MAX_SAMPLES`` of them (413)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault(
            "metadata",
            {
                "type": "array",
                "items": {"type": "number", "minimum": 0},
                "description": "One latency per sample, in the job's order (finite, >= 0).",
            },
        )
        super().__init__(**kwargs)

    def _deserialize(self, value: Any, attr, data, **kwargs):
        limit = current_app.config["LATENCIES_MAX_SAMPLES"]
        if isinstance(value, list) and len(value) > limit:
            raise RequestEntityTooLarge(
                f"{len(value):,} latencies sent; at most {limit:,} per job (LATENCIES_MAX_SAMPLES)."
            )
        try:
            return samples_from_list(value)
        except LatencyError as error:
            raise ma.ValidationError(str(error)) from None


class QpsBody(Schema):
    experiment_id = ExperimentIdField(required=True)
    selector = SelectorField(required=True)
    qps = fields.Float(
        required=True,
        allow_nan=False,
        validate=validate.Range(min=0, error="The QPS must be >= 0."),
        metadata={"description": "The job's throughput, queries per second (finite, >= 0)."},
    )


class Qps(Schema):
    experiment_id = fields.String(required=True)
    selector = fields.String(required=True)
    qps = fields.Float(required=True)


class LatenciesBody(Schema):
    experiment_id = ExperimentIdField(required=True)
    selector = SelectorField(required=True)
    latencies = LatencyList(required=True)


class LatenciesStored(Schema):
    experiment_id = fields.String(required=True)
    selector = fields.String(required=True)
    count = fields.Integer(required=True, metadata={"description": "Samples stored."})


class LatenciesArgs(Schema):
    format = fields.String(
        load_default="string",
        validate=validate.OneOf(["string", "array"]),
        metadata={
            "description": "string (default, as the seed): each job's latencies as one "
            "comma-separated string; array: as a JSON array of numbers."
        },
    )


class JobLatencies(Schema):
    """One job's latencies (the answer is streamed, job after job)."""

    experiment_id = fields.String(required=True)
    selector = fields.String(required=True)
    latencies = fields.Raw(
        required=True,
        metadata={"description": "Comma-separated numbers, or an array with format=array."},
    )


class ExperimentIds(Schema):
    experiments = fields.List(fields.String(), required=True)


class Experiment(Schema):
    """The seed's ``{"id", "experiment_id", "config_id"}`` and what this service adds."""

    id = fields.Integer(required=True)
    experiment_id = fields.String(required=True)
    config_id = fields.Integer(required=True, allow_none=True)
    benchmark_id = fields.UUID(allow_none=True)
    site_id = fields.UUID(allow_none=True)
    flavor_id = fields.UUID(allow_none=True)
    tags = fields.List(fields.Nested(Tag))
    uploader_id = fields.UUID(allow_none=True)
    created = AwareDateTime()
    sample_count = fields.Method("count_samples", metadata={"type": "integer"})

    def count_samples(self, experiment) -> int:
        return experiment.sample_count()


Experiments = page_of(Experiment, "Experiments")


class ExperimentChanges(Schema):
    """What the owner may change: the catalogue context (null clears a link)."""

    benchmark_id = fields.UUID(allow_none=True)
    site_id = fields.UUID(allow_none=True)
    flavor_id = fields.UUID(allow_none=True)
    tags_ids = fields.List(fields.UUID())


class ExperimentSelectionArgs(SearchArgs):
    """The /experiments:search filters, shared by the search and the aggregate."""

    benchmark_id = fields.UUID()
    site_id = fields.UUID()
    flavor_id = fields.UUID()
    tags_ids = fields.List(
        fields.UUID(), metadata={"description": "Experiments with all of these tags."}
    )
    uploader_id = fields.UUID()
    created_after = AwareDateTime(metadata={"description": "Created after this date."})
    created_before = AwareDateTime(metadata={"description": "Created before this date."})


class ExperimentSearchArgs(ExperimentSelectionArgs, PaginationArgs, SearchArgs):
    # These bases keep the documented order of the parameters: terms, page, per_page, then
    # the filters (marshmallow orders fields by the reversed MRO).
    sort_by = SortBy(EXPERIMENT_SORT_FIELDS)


class ConfigStored(Schema):
    experiment_id = fields.String(required=True)
    config_id = fields.Integer(required=True)


class PercentileList(fields.String):
    """``50,99.99``: comma-separated percentiles (0 to 100), loaded as canonical keys."""

    def _deserialize(self, value: Any, attr, data, **kwargs) -> list[str]:
        text = super()._deserialize(value, attr, data, **kwargs)
        parts = [part for part in text.split(",") if part.strip()]
        if not parts or len(parts) > 100:
            raise ma.ValidationError("Give 1 to 100 comma-separated percentiles, e.g. 50,99.99.")
        try:
            return list(dict.fromkeys(percentile_key(part) for part in parts))
        except LatencyError as error:
            raise ma.ValidationError(str(error)) from None


def method_field() -> fields.String:
    """Which percentile definition (and mean) a statistics read answers with."""
    return fields.String(
        load_default="linear",
        validate=validate.OneOf(METHODS),
        metadata={
            "description": "linear (default): interpolate between the closest ranks, as "
            "numpy and percentile_cont; loadgen: MLPerf LoadGen's, the sample at index "
            "floor(n*p) of the sorted samples (and LoadGen's truncated mean)."
        },
    )


class StatsArgs(Schema):
    method = method_field()
    percentiles = PercentileList(
        metadata={
            "description": "Comma-separated percentiles (default "
            f"{','.join(DEFAULT_PERCENTILES)}); others than the defaults are computed "
            "from the stored samples on demand (about 0.1 s per million samples).",
            "example": "50,99.99",
        }
    )


class Summary(Schema):
    count = fields.Integer(required=True)
    min = fields.Float(required=True)
    max = fields.Float(required=True)
    mean = fields.Float(required=True)
    stddev = fields.Float(
        required=True, metadata={"description": "Population standard deviation (ddof=0)."}
    )
    percentiles = fields.Dict(
        keys=fields.String(),
        values=fields.Float(),
        required=True,
        metadata={"description": 'Value by percentile, e.g. {"50": 1.2, "99.9": 8.4}.'},
    )


class JobStats(Schema):
    selector = fields.String(required=True)
    qps = fields.Float(required=True, allow_none=True)
    latencies = fields.Nested(Summary, required=True, allow_none=True)


class ExperimentStats(Schema):
    experiment_id = fields.String(required=True)
    method = fields.String(required=True)
    jobs = fields.List(fields.Nested(JobStats), required=True)
    all = fields.Nested(
        Summary,
        required=True,
        allow_none=True,
        metadata={"description": "Over all samples of all jobs; null without samples."},
    )


class HistogramArgs(Schema):
    selector = SelectorField(metadata={"description": "The job; all samples if omitted."})
    bins = fields.Integer(load_default=50, validate=validate.Range(min=1, max=10000))
    log = fields.Boolean(
        load_default=False, metadata={"description": "Bins equal on a logarithmic scale."}
    )


class Histogram(Schema):
    experiment_id = fields.String(required=True)
    selector = fields.String(required=True, allow_none=True)
    log = fields.Boolean(required=True)
    edges = fields.List(fields.Float(), required=True, metadata={"description": "bins + 1 edges."})
    counts = fields.List(fields.Integer(), required=True)


class LoadgenRunBody(Schema):
    """A LoadGen output folder as JSON: its files' text by file name."""

    selector = SelectorField(required=True)
    files = fields.Dict(
        keys=fields.String(),
        values=fields.String(),
        required=True,
        metadata={
            "description": "File name to text: mlperf_log_detail.txt and "
            "mlperf_log_trace.json (LoadGen writes it with tracing on); others are ignored.",
            "example": {
                "mlperf_log_detail.txt": ':::MLLOG {"key": "loadgen_version", ...}\n...',
                "mlperf_log_trace.json": '{"traceEvents":[\n...',
            },
        },
    )


class Job(Schema):
    experiment_id = fields.String(required=True)
    selector = fields.String(required=True)
    qps = fields.Float(required=True, allow_none=True)
    count = fields.Integer(required=True, allow_none=True)
    settings = fields.Dict(
        required=True, allow_none=True, metadata={"description": "The run's settings."}
    )


class ConfigDocument(Schema):
    """An experiment's configuration: any JSON object (kept as sent)."""

    class Meta:
        unknown = ma.INCLUDE


#: What ``/experiments:aggregate`` aggregates: a statistic of each job.
JOB_METRICS = [
    "qps",
    *(f"latency.{name}" for name in ("count", "mean", "stddev", "min", "max")),
    *(f"latency.p{key}" for key in DEFAULT_PERCENTILES),
]


class ExperimentAggregateArgs(ExperimentSelectionArgs, GroupingArgs):
    metric = fields.String(
        required=True,
        validate=validate.OneOf(
            JOB_METRICS, error="'{input}' is not a job statistic; one of: {choices}."
        ),
        metadata={
            "description": "The statistic of each job to aggregate: qps, or one of the "
            "statistics of the job's latencies (latency.count, latency.mean, "
            "latency.stddev, latency.min, latency.max, latency.p50, latency.p90, "
            "latency.p95, latency.p99, latency.p99.9). Jobs without it (no QPS or no "
            "latencies posted) are left out and counted in `missing`.",
            "example": "latency.p99",
        },
    )
    method = method_field()
    group_by = group_by_field(
        "The keys are the experiment's context (PATCH /experiments/{experiment_id}); "
        "experiments without a benchmark, site or flavor are in a group whose key id and "
        "name are null. `tag`: an experiment with several tags counts in each of their "
        "groups, untagged ones in a group whose tag id and name are null. `month`: of "
        "the experiment's creation, in UTC, as YYYY-MM."
    )
    sort_by = aggregate_sort_by()


class ExperimentAggregate(Aggregate):
    """``/results:aggregate``'s answer, over jobs."""

    metric = fields.String(required=True, metadata={"example": "latency.p99"})
    method = fields.String(required=True)
    missing = fields.Integer(
        required=True,
        metadata={"description": "Selected jobs without the metric, each once."},
    )
