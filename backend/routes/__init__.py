"""One blueprint per resource; a request to /<resource>... is handled in routes/<resource>.py."""

from backend.routes import (
    artifacts,
    benchmarks,
    config,
    experiments,
    flavors,
    jobs,
    reports,
    results,
    sites,
    storage,
    tags,
    users,
)

API_BLUEPRINTS = [
    benchmarks.blp,
    sites.blp,
    flavors.blp,
    tags.blp,
    users.blp,
    reports.blp,
    results.blp,
    artifacts.blp,
    storage.blp,
    experiments.blp,
    jobs.blp,
    config.blp,
]
