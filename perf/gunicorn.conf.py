"""Gunicorn settings for the load test: the deployment's (``gunicorn.conf.py``), plus what
this harness proposes for it, so that a measurement shows the effect of both.

Proposed: ``gc.freeze()`` once a worker has loaded the app. The app and its libraries are
about 140,000 long-lived objects; without freezing, every full collection walks all of
them again, which shows up as 30-100 ms pauses in the p99 of large pages.
"""

from __future__ import annotations

import gc
from pathlib import Path

_DEPLOYMENT = Path(__file__).resolve().parent.parent / "gunicorn.conf.py"
exec(compile(_DEPLOYMENT.read_text(), str(_DEPLOYMENT), "exec"))


def post_worker_init(worker) -> None:
    """Move everything loaded so far out of the collector's sight."""
    gc.collect()
    gc.freeze()
    import os, sys
    if os.environ.get("SWITCH"):
        sys.setswitchinterval(float(os.environ["SWITCH"]))
