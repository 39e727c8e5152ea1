"""/qps and /latencies: the seed's per-job results, a throughput and a latency list.

A job is (experiment, selector). Its first write makes the experiment (as in the seed);
each of its two results is written once (a second POST is a 409 that changes nothing).

Latency lists are large (a million samples is about 19 MB of JSON), so this blueprint
parses them its own way (``LatencyBodyParser``): the body limit is
``LATENCIES_MAX_BODY_SIZE``, not the 1 MiB of other routes; the latency list goes from
the JSON text straight into numpy (``latency_stats.latencies_from_json``: no Python float
per sample, which took a worker's peak from 243 to 321 MiB for a million samples), and
any other body is read by orjson even where ``loads_request`` would hand it to the
standard library (5 s for a million samples);
the text check every body gets skips the latency list, whose field accepts numbers only
(walking a million floats took 0.8 s); and a NaN or Infinity, which JSON cannot spell but
Python's ``json.dumps`` writes, is read so that the answer can be a 422 naming the index of
the bad sample rather than a 400 "not JSON". ``GET /latencies/{id}`` streams: one stored
chunk (65,536 samples) in memory at a time, written by orjson straight from numpy.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping

import orjson
from flask import Response, current_app, stream_with_context
from webargs.flaskparser import is_json_request

from backend.latency_stats import latencies_from_json
from backend.middleware import body_limit
from backend.models import Experiment, Job
from backend.queries import OWN_COLUMNS
from backend.routes.blueprint import Blueprint, StrictParser
from backend.routes.experiment_access import (
    also_with_trailing_slash,
    complete_merged_stats,
    experiment_for_writing,
)
from backend.schemas.experiments import (
    JobLatencies,
    LatenciesArgs,
    LatenciesBody,
    LatenciesStored,
    Qps,
    QpsBody,
)
from backend.unit_of_work import commit


class LatencyBodyParser(StrictParser):
    """StrictParser, but a NaN or Infinity in a body is read (the schemas refuse it with
    a 422 that says where), and the latency list skips the text check: its field refuses
    anything but numbers (text included) by itself."""

    def _raw_load_json(self, req):
        if is_json_request(req):
            # Every number here becomes a double, so orjson's reading of integers beyond
            # 64 bits (as doubles) is right; a long run of digits, which makes
            # ``loads_request`` use the standard library (5 s for a million samples), is
            # what any small latency holds (0.0067379469990854675). A latency list is
            # read straight into numpy (``latencies_from_json``) where it can be.
            body = req.get_data(cache=True)
            limit = current_app.config["LATENCIES_MAX_SAMPLES"]
            document = latencies_from_json(body, limit) if b'"latencies"' in body else None
            if document is not None:
                return document
            try:
                return orjson.loads(body)
            except orjson.JSONDecodeError:
                pass
        try:
            return super()._raw_load_json(req)
        except json.JSONDecodeError as error:
            if not error.msg.endswith("is not valid JSON"):
                raise
            return json.loads(req.get_data(cache=True), parse_constant=float)

    def pre_load(self, location_data, *, schema, req, location):
        if isinstance(location_data, Mapping) and "latencies" in location_data:
            rest = {k: v for k, v in location_data.items() if k != "latencies"}
            super().pre_load(rest, schema=schema, req=req, location=location)
            return location_data
        return super().pre_load(location_data, schema=schema, req=req, location=location)


class JobsBlueprint(Blueprint):
    ARGUMENTS_PARSER = LatencyBodyParser()


blp = JobsBlueprint("jobs", __name__, description="Experiments: per-job QPS and latencies")


@blp.route("/qps", methods=["POST"])
@blp.access("user")
@blp.arguments(QpsBody)
@blp.response(201, Qps)
def post_qps(body):
    """Store a job's QPS (the first write to an experiment makes it; owner or admin after)"""
    experiment = experiment_for_writing(body["experiment_id"])
    experiment.job(body["selector"]).record_qps(body["qps"])
    commit()
    return body


@blp.route("/qps/<experiment:experiment_id>", methods=["GET"])
@blp.access("public")
@blp.response(200, Qps(many=True))
def get_qps(experiment_id: str):
    """The QPS of each job of an experiment"""
    experiment = Experiment.get_or_404(experiment_id, OWN_COLUMNS)
    return [
        {"experiment_id": experiment_id, "selector": job.selector, "qps": job.qps}
        for job in experiment.jobs
        if job.qps is not None
    ]


@blp.route("/latencies", methods=["POST"])
@blp.access("user")
@blp.arguments(LatenciesBody)
@blp.response(201, LatenciesStored)
@body_limit("LATENCIES_MAX_BODY_SIZE")
def post_latencies(body):
    """Store a job's latencies, with their statistics (first write makes the experiment)"""
    experiment = experiment_for_writing(body["experiment_id"])
    samples = body.pop("latencies")
    experiment.job(body["selector"]).record_latencies(samples)
    experiment.refresh_stats()
    commit()
    complete_merged_stats(experiment)
    return {**body, "count": samples.size}


@blp.route("/latencies/<experiment:experiment_id>", methods=["GET"])
@blp.access("public")
@blp.arguments(LatenciesArgs, location="query")
@blp.response(200, JobLatencies(many=True))
def get_latencies(args, experiment_id: str):
    """The latencies of each job of an experiment, streamed"""
    experiment = Experiment.get_or_404(experiment_id, OWN_COLUMNS)
    jobs = [job for job in experiment.jobs if job.sample_count is not None]
    body = stream_latencies(experiment_id, jobs, as_array=args["format"] == "array")
    return Response(stream_with_context(body), mimetype="application/json")


def stream_latencies(experiment_id: str, jobs: Iterable[Job], as_array: bool) -> Iterator[bytes]:
    """``[{"experiment_id", "selector", "latencies"}, ...]`` chunk by chunk: the latencies
    as one comma-separated string (the seed's shape) or a JSON array."""
    opening, closing = (b"[", b"]}") if as_array else (b'"', b'"}')
    yield b"["
    for index, job in enumerate(jobs):
        head = orjson.dumps({"experiment_id": experiment_id, "selector": job.selector})
        yield (b"," if index else b"") + head[:-1] + b',"latencies":' + opening
        separator = b""
        for samples in job.iter_chunks():
            yield separator + orjson.dumps(samples, option=orjson.OPT_SERIALIZE_NUMPY)[1:-1]
            separator = b","
        yield closing
    yield b"]"


also_with_trailing_slash(
    blp,
    [
        ("/qps", "post_qps", ["POST"]),
        ("/qps/<experiment:experiment_id>", "get_qps", ["GET"]),
        ("/latencies", "post_latencies", ["POST"]),
        ("/latencies/<experiment:experiment_id>", "get_latencies", ["GET"]),
    ],
)
