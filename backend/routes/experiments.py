"""/experiments: MLPerf-style sweeps of jobs, their statistics, and LoadGen runs.

``GET /experiments`` and ``GET /experiments/{id}`` keep the seed's answers;
``/experiments:search`` lists with the pagination every list here has. Statistics are
stored at write time (``backend.latency_stats``): ``/stats`` reads them, unless other
percentiles than the defaults are asked for, which are computed from the samples.
"""

from __future__ import annotations

from sqlalchemy import select

from backend import loadgen
from backend.errors import InvalidArguments, NotFound
from backend.experiment_finding import aggregate_jobs, selected_experiments
from backend.extensions import db
from backend.latency_stats import (
    DEFAULT_PERCENTILES,
    LatencyError,
    histogram,
    pick,
)
from backend.middleware import body_limit
from backend.models import Benchmark, Experiment, Flavor, Site, Tag
from backend.queries import OWN_COLUMNS, paginate, sort
from backend.routes.blueprint import Blueprint
from backend.routes.experiment_access import (
    also_with_trailing_slash,
    complete_merged_stats,
    experiment_for_changing,
    experiment_for_writing,
)
from backend.schemas.experiments import Experiment as ExperimentSchema
from backend.schemas.experiments import (
    ExperimentAggregate,
    ExperimentAggregateArgs,
    ExperimentChanges,
    ExperimentIds,
    Experiments,
    ExperimentSearchArgs,
    ExperimentStats,
    Histogram,
    HistogramArgs,
    Job,
    LoadgenRunBody,
    StatsArgs,
)
from backend.unit_of_work import commit

blp = Blueprint("experiments", __name__, description="Experiments: sweeps of ML jobs")

SORT_FIELDS = {
    "experiment_id": Experiment.experiment_id,
    "created": Experiment.created,
    "id": Experiment.id,
}
DEFAULT_SORT = [("created", True)]


@blp.route("/experiments", methods=["GET"])
@blp.access("public")
@blp.response(200, ExperimentIds)
def list_experiment_ids():
    """The ids of all experiments (the seed's list)"""
    ids = db.session.scalars(select(Experiment.experiment_id).order_by(Experiment.id))
    return {"experiments": list(ids)}


@blp.route("/experiments:search", methods=["GET"])
@blp.access("public")
@blp.arguments(ExperimentSearchArgs, location="query")
@blp.response(200, Experiments)
def search_experiments(args):
    """Search experiments by catalogue links, uploader, creation date and terms"""
    stmt = sort(
        selected_experiments(args),
        args.get("sort_by"),
        SORT_FIELDS,
        default=DEFAULT_SORT,
        id_column=Experiment.id,
    )
    return paginate(stmt, args)


@blp.route("/experiments:aggregate", methods=["GET"])
@blp.access("public")
@blp.arguments(ExperimentAggregateArgs, location="query")
@blp.response(200, ExperimentAggregate)
def aggregate_experiments(args):
    """Compare groups of experiments' jobs by one job statistic (extension)

    Every /experiments:search filter selects the experiments; `metric=` names the
    statistic of each job (`qps`, `latency.p99`, ...) and `group_by` one to three of
    benchmark, site, flavor, tag, month, the experiments' context. Each group has its
    keys (ids and names), count (jobs), mean, stddev, min, p50, p90, p99 and max of the
    jobs' values, computed as numpy does (stddev with ddof=0, percentiles by linear
    interpolation). At most 1,000 groups: more is a 422 that says how to narrow the
    selection.
    """
    return aggregate_jobs(args)


@blp.route("/experiments/<experiment:experiment_id>", methods=["GET"])
@blp.access("public")
@blp.response(200, ExperimentSchema)
def get_experiment(experiment_id: str):
    """An experiment: its integer id, configuration id and catalogue links"""
    return Experiment.get_or_404(experiment_id)


@blp.route("/experiments/<experiment:experiment_id>", methods=["PATCH"])
@blp.access("owner_or_admin")
@blp.arguments(ExperimentChanges)
@blp.response(200, ExperimentSchema)
def update_experiment(body, experiment_id: str):
    """Link an experiment to a benchmark, site, flavor and tags (fields not sent are kept)"""
    experiment = experiment_for_changing(experiment_id)
    for name, model in (("benchmark_id", Benchmark), ("site_id", Site), ("flavor_id", Flavor)):
        if body.get(name) is not None:
            model.get_or_404(body[name])
    flavor_id = body.get("flavor_id", experiment.flavor_id)
    site_id = body.get("site_id", experiment.site_id)
    if flavor_id is not None:
        flavor_site = db.session.get(Flavor, flavor_id).site_id
        if "site_id" not in body and "flavor_id" in body:
            body["site_id"] = site_id = flavor_site
        if site_id != flavor_site:
            raise InvalidArguments(
                f"The flavor {flavor_id} belongs to the site {flavor_site}, not to {site_id}."
            )
    if "tags_ids" in body:
        experiment.replace_tags(Tag.get_all_or_404(body.pop("tags_ids")))
    for name, value in body.items():
        setattr(experiment, name, value)
    commit()
    return experiment


@blp.route("/experiments/<experiment:experiment_id>", methods=["DELETE"])
@blp.access("owner_or_admin")
@blp.response(204)
def delete_experiment(experiment_id: str):
    """Delete an experiment with its jobs, latencies and configuration"""
    db.session.delete(experiment_for_changing(experiment_id))
    commit()


@blp.route("/experiments/<experiment:experiment_id>/stats", methods=["GET"])
@blp.access("public")
@blp.arguments(StatsArgs, location="query")
@blp.response(200, ExperimentStats)
def get_experiment_stats(args, experiment_id: str):
    """Exact statistics per job and over all samples: count, min, max, mean, percentiles"""
    experiment = Experiment.get_or_404(experiment_id, OWN_COLUMNS)
    method, keys = args["method"], args.get("percentiles")
    on_demand = keys is not None and not set(keys) <= set(DEFAULT_PERCENTILES)

    def view(stats, samples) -> dict | None:
        if stats is None:
            return None
        if on_demand or stats["percentiles"] is None:  # asked for, or not stored yet
            stats = {**stats, "percentiles": samples.percentiles(keys or DEFAULT_PERCENTILES)}
        return pick(stats, method, keys)

    return {
        "experiment_id": experiment_id,
        "method": method,
        "jobs": [
            {
                "selector": job.selector,
                "qps": job.qps,
                "latencies": view(job.stats, job),
            }
            for job in experiment.jobs
        ],
        "all": view(experiment.stats, experiment),
    }


@blp.route("/experiments/<experiment:experiment_id>/histogram", methods=["GET"])
@blp.access("public")
@blp.arguments(HistogramArgs, location="query")
@blp.response(200, Histogram)
def get_experiment_histogram(args, experiment_id: str):
    """Histogram of a job's latencies (or of all samples), linear or logarithmic bins"""
    experiment = Experiment.get_or_404(experiment_id, OWN_COLUMNS)
    selector = args.get("selector")
    if selector is not None:
        job = experiment.job_or_404(selector)
        samples = job.load_samples() if job.sample_count else None
    else:
        samples = experiment.load_samples()
    if samples is None:
        raise NotFound(f"No latencies stored for {selector or 'any job'} of '{experiment_id}'.")
    try:
        edges, counts = histogram(samples, args["bins"], args["log"])
    except LatencyError as error:
        raise InvalidArguments(str(error)) from None
    return {
        "experiment_id": experiment_id,
        "selector": selector,
        "log": args["log"],
        "edges": edges,
        "counts": counts,
    }


@blp.route("/experiments/<experiment:experiment_id>/loadgen", methods=["POST"])
@blp.access("user")
@blp.arguments(LoadgenRunBody)
@blp.response(201, Job)
@body_limit("LATENCIES_MAX_BODY_SIZE")
def post_loadgen_run(body, experiment_id: str):
    """Store a MLPerf LoadGen run as a job: its QPS, per-sample latencies and settings"""
    run = loadgen.read_run(body["files"])
    experiment = experiment_for_writing(experiment_id)
    job = experiment.job(body["selector"])
    job.record_qps(run.qps)
    job.record_latencies(run.latencies, settings=run.settings)
    experiment.refresh_stats()
    commit()
    complete_merged_stats(experiment)
    return {
        "experiment_id": experiment_id,
        "selector": job.selector,
        "qps": job.qps,
        "count": job.sample_count,
        "settings": job.settings,
    }


also_with_trailing_slash(
    blp,
    [
        ("/experiments", "list_experiment_ids", ["GET"]),
        ("/experiments/<experiment:experiment_id>", "get_experiment", ["GET"]),
    ],
)
