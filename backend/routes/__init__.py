"""One blueprint per resource; a request to /<resource>... is handled in routes/<resource>.py."""

from backend.routes import benchmarks, flavors, reports, results, sites, tags, users

API_BLUEPRINTS = [
    benchmarks.blp,
    sites.blp,
    flavors.blp,
    tags.blp,
    users.blp,
    reports.blp,
    results.blp,
]
