"""Benchmark bodies, responses and query arguments."""

from marshmallow import fields, validate

from backend.schemas.common import (
    ReviewedFilterArgs,
    ReviewedSearchArgs,
    Schema,
    SortBy,
    Uploaded,
    page_of,
)

BENCHMARK_SORT_FIELDS = ["docker_image", "docker_tag", "upload_datetime", "id", "url"]


class CreateBenchmark(Schema):
    docker_image = fields.String(
        required=True,
        validate=validate.Length(min=1, max=255),
        metadata={"description": "Container image (Docker Hub name or registry/repo)."},
    )
    docker_tag = fields.String(
        required=True,
        validate=validate.Length(min=1, max=128),
        metadata={"description": "Image tag; pin a version so results stay comparable."},
    )
    url = fields.URL(
        required=True,
        validate=validate.Length(max=2048),
        metadata={"description": "Documentation of the benchmark."},
    )
    json_schema = fields.Dict(
        required=True,
        metadata={"description": "JSON Schema every result must satisfy ({} accepts all)."},
    )
    description = fields.String(
        allow_none=True, validate=validate.Length(max=10000), metadata={"description": "Free text."}
    )


class Benchmark(Uploaded, CreateBenchmark):
    pass


Benchmarks = page_of(Benchmark, "Benchmarks")


class BenchmarkFilterArgs(ReviewedFilterArgs):
    docker_image = fields.String()
    docker_tag = fields.String()
    sort_by = SortBy(BENCHMARK_SORT_FIELDS)


class BenchmarkSearchArgs(ReviewedSearchArgs):
    sort_by = SortBy(BENCHMARK_SORT_FIELDS)
