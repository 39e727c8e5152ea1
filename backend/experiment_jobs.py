"""Writing an experiment's configuration, shared by ``POST /config/{experiment_id}`` and
``flask import`` (``backend.bulk.experiments``), so both check and store it one way.

A job's QPS and latencies need nothing beyond the model (``Job.record_qps``,
``Job.record_latencies``, ``Experiment.refresh_stats``); the configuration's depth rule
lived in its route, and moved here so the importer does not repeat it.
"""

from __future__ import annotations

from typing import Any

from backend.errors import SchemaViolation
from backend.json_limits import RESULT_MAX_DEPTH, deeper_than
from backend.models import Experiment, ExperimentConfig


def store_config(experiment: Experiment, document: dict[str, Any]) -> None:
    """Make ``document`` the experiment's configuration (a second one replaces the first
    and keeps its id); SchemaViolation if it is nested deeper than a result may be."""
    if deeper_than(document, RESULT_MAX_DEPTH):
        raise SchemaViolation(
            f"The configuration is nested more than {RESULT_MAX_DEPTH} levels deep; at most "
            f"{RESULT_MAX_DEPTH} levels of objects and arrays are accepted."
        )
    if experiment.config is None:
        experiment.config = ExperimentConfig(document=document)
    else:
        experiment.config.document = document
