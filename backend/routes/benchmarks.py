"""/benchmarks: container images whose results the service stores."""

from __future__ import annotations

import uuid

from flask import current_app

from backend import auth
from backend.image_registry import check_image_exists
from backend.models import Benchmark
from backend.queries import filter_equal, filter_upload, paginate, search, select_own_columns, sort
from backend.response_cache import cached
from backend.routes.blueprint import Blueprint
from backend.routes.review import add_review_routes
from backend.schemas.benchmarks import (
    Benchmark as BenchmarkSchema,
)
from backend.schemas.benchmarks import (
    BenchmarkFilterArgs,
    Benchmarks,
    BenchmarkSearchArgs,
    CreateBenchmark,
)
from backend.unit_of_work import commit

blp = Blueprint("benchmarks", __name__, description="Benchmarks")

SORT_FIELDS = {
    "docker_image": Benchmark.docker_image,
    "docker_tag": Benchmark.docker_tag,
    "upload_datetime": Benchmark.upload_datetime,
    "id": Benchmark.id,
    "url": Benchmark.url,
}
DEFAULT_SORT = [("docker_image", False), ("docker_tag", False)]


def check_image(image: str, tag: str) -> None:
    """Make sure the image is pullable, unless IMAGE_VALIDATION is off."""
    config = current_app.config
    if config["IMAGE_VALIDATION"]:
        check_image_exists(
            image,
            tag,
            timeout=config["IMAGE_REGISTRY_TIMEOUT"],
            insecure_registries=config["IMAGE_REGISTRY_INSECURE"],
            allowed_registries=config["IMAGE_REGISTRIES"],
        )


@blp.route("/benchmarks", methods=["GET"])
@cached
@blp.access("public")
@blp.arguments(BenchmarkFilterArgs, location="query")
@blp.response(200, Benchmarks)
def list_benchmarks(args):
    """Filter and list benchmarks"""
    stmt = select_own_columns(Benchmark).where(Benchmark.status == args["status"])
    stmt = filter_equal(
        stmt, args, {"docker_image": Benchmark.docker_image, "docker_tag": Benchmark.docker_tag}
    )
    stmt = filter_upload(stmt, Benchmark.upload_datetime, args)
    stmt = sort(
        stmt, args.get("sort_by"), SORT_FIELDS, default=DEFAULT_SORT, id_column=Benchmark.id
    )
    return paginate(stmt, args)


@blp.route("/benchmarks", methods=["POST"])
@blp.access("user")
@blp.arguments(CreateBenchmark)
@blp.response(201, BenchmarkSchema)
def create_benchmark(body):
    """Upload a new benchmark (on review until an admin approves it)

    The json_schema must be a valid JSON Schema (draft 2020-12, 2019-09, 7 or 4, as its
    `$schema` says); results are validated against it on upload.
    """
    check_image(body["docker_image"], body["docker_tag"])
    benchmark = Benchmark.submit(**body, uploader=auth.current_user())
    commit()
    return benchmark


@blp.route("/benchmarks:search", methods=["GET"])
@cached
@blp.access("public")
@blp.arguments(BenchmarkSearchArgs, location="query")
@blp.response(200, Benchmarks)
def search_benchmarks(args):
    """Search benchmarks by terms in docker_image, docker_tag or description"""
    stmt = select_own_columns(Benchmark).where(Benchmark.status == args["status"])
    stmt = filter_upload(stmt, Benchmark.upload_datetime, args)
    stmt = search(
        stmt, args["terms"], [Benchmark.docker_image, Benchmark.docker_tag, Benchmark.description]
    )
    stmt = sort(
        stmt, args.get("sort_by"), SORT_FIELDS, default=DEFAULT_SORT, id_column=Benchmark.id
    )
    return paginate(stmt, args)


@blp.route("/benchmarks/<uuid:benchmark_id>", methods=["GET"])
@cached
@blp.access("public")
@blp.response(200, BenchmarkSchema)
def get_benchmark(benchmark_id: uuid.UUID):
    """Retrieve a benchmark"""
    return Benchmark.get_or_404(benchmark_id)


@blp.route("/benchmarks/<uuid:benchmark_id>", methods=["PUT"])
@blp.access("admin")
@blp.arguments(CreateBenchmark(partial=True))
@blp.response(204)
def update_benchmark(body, benchmark_id: uuid.UUID):
    """Update a benchmark (fields not sent are kept)"""
    benchmark = Benchmark.get_or_404(benchmark_id)
    if {"docker_image", "docker_tag"} & body.keys():
        check_image(
            body.get("docker_image", benchmark.docker_image),
            body.get("docker_tag", benchmark.docker_tag),
        )
    benchmark.update(body)
    commit()


@blp.route("/benchmarks/<uuid:benchmark_id>", methods=["DELETE"])
@blp.access("admin")
@blp.response(204)
def delete_benchmark(benchmark_id: uuid.UUID):
    """Delete a benchmark that has no results"""
    Benchmark.get_or_404(benchmark_id).delete()
    commit()


add_review_routes(blp, Benchmark, "benchmark_id", prefix="/benchmarks")
