"""/config/{experiment_id}: an experiment's configuration document, as in the seed.

Any JSON object, at most ``RESULT_MAX_DEPTH`` levels deep like a result. A second POST
replaces the document and keeps its ``config_id`` (the experiment has one configuration).
"""

from __future__ import annotations

from flask import current_app

from backend.errors import NotFound
from backend.experiment_jobs import store_config
from backend.models import Experiment
from backend.routes.blueprint import Blueprint
from backend.routes.experiment_access import also_with_trailing_slash, experiment_for_writing
from backend.schemas.experiments import ConfigDocument, ConfigStored
from backend.unit_of_work import commit

blp = Blueprint("config", __name__, description="Experiments: configuration documents")


@blp.route("/config/<experiment:experiment_id>", methods=["POST"])
@blp.access("user")
@blp.arguments(ConfigDocument)
@blp.response(201, ConfigStored)
def post_config(document, experiment_id: str):
    """Store an experiment's configuration (replaces the one it had; makes the experiment)"""
    experiment = experiment_for_writing(experiment_id)
    store_config(experiment, document)
    commit()
    return {"experiment_id": experiment_id, "config_id": experiment.config_id}


@blp.route("/config/<experiment:experiment_id>", methods=["GET"])
@blp.access("public")
@blp.response(200, ConfigDocument)
def get_config(experiment_id: str):
    """An experiment's configuration document"""
    experiment = Experiment.get_or_404(experiment_id)
    if experiment.config is None:
        raise NotFound(f"Experiment '{experiment_id}' has no configuration.")
    # As stored: the schema documents a free-form object, which it would dump as {}.
    return current_app.json.response(experiment.config.document)


also_with_trailing_slash(
    blp,
    [
        ("/config/<experiment:experiment_id>", "post_config", ["POST"]),
        ("/config/<experiment:experiment_id>", "get_config", ["GET"]),
    ],
)
