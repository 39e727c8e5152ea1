"""What the experiment, job and configuration routes share: who may write to an
experiment, and the seed's trailing-slash spellings of their paths.

Not a blueprint: route modules never import each other, so this lives beside them, as
``review.py`` does for the approval routes.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable

import flask
import marshmallow as ma
from flask import Flask, current_app

from backend import auth
from backend.errors import InvalidArguments, NotFound
from backend.extensions import db
from backend.models import Experiment
from backend.schemas.experiments import ExperimentIdField
from backend.unit_of_work import commit, lock

logger = logging.getLogger(__name__)

#: One merge at a time per worker: each holds every sample of an experiment (80 MB for
#: 10,000,000), and merges queued behind a newer write of the same experiment find their
#: work done when their turn comes.
_MERGING = threading.Lock()


def experiment_for_writing(experiment_id: str) -> Experiment:
    """The experiment a write adds to, made for the caller if it does not exist yet (as
    in the seed), and locked until the commit: writes to one experiment come one at a
    time, so each sees the jobs and statistics the previous one left. Forbidden unless
    the caller created it or is an admin; an id the seed's rules refuse (from a path) is
    an InvalidArguments naming the rule."""
    try:
        ExperimentIdField().deserialize(experiment_id)
    except ma.ValidationError as error:
        raise InvalidArguments(" ".join(error.messages)) from None
    experiment = Experiment.get_or_create(experiment_id, auth.current_user())
    auth.require_owner_or_admin(experiment.uploader_id)
    if not lock(experiment):
        raise NotFound(f"No experiment with id '{experiment_id}'.")
    return experiment


def experiment_for_changing(experiment_id: str) -> Experiment:
    """An existing experiment its owner (or an admin) changes or deletes, locked."""
    experiment = Experiment.get_or_404(experiment_id)
    auth.require_owner_or_admin(experiment.uploader_id)
    if not lock(experiment):
        raise NotFound(f"No experiment with id '{experiment_id}'.")
    return experiment


def complete_merged_stats(experiment: Experiment) -> None:
    """After a committed write that left the experiment's merged percentiles pending
    (``Experiment.refresh_stats``): compute and store them in a thread of their own, so
    that the write's response does not wait for every sample to be read back; at once
    when the app is TESTING, so that tests see one deterministic order of events. A
    reader who asks before they are stored gets them computed from the samples."""
    if not experiment.stats_pending:
        return
    app = current_app._get_current_object()
    if app.testing:
        _store_merged_percentiles(experiment.id)
        return
    threading.Thread(
        target=_in_app_context,
        args=(app, experiment.id),
        name=f"merged-stats-{experiment.id}",
        daemon=True,
    ).start()


def _in_app_context(app: Flask, experiment_pk: int) -> None:
    with _MERGING, app.app_context():
        try:
            _store_merged_percentiles(experiment_pk)
        except Exception:  # the stats stay pending and readers compute them: log only
            logger.exception(
                "Computing the merged statistics of experiment %s failed", experiment_pk
            )


def _store_merged_percentiles(experiment_pk: int) -> None:
    """Read the samples without a lock (a write to the experiment may go on meanwhile),
    then store the percentiles only if no write changed its samples since."""
    experiment = db.session.get(Experiment, experiment_pk)
    if experiment is None or not experiment.stats_pending:
        return
    count = experiment.stats["count"]
    percentiles = experiment.percentiles()
    db.session.rollback()  # end the snapshot the samples were read in
    experiment = db.session.get(Experiment, experiment_pk)
    if experiment is None or not lock(experiment):
        return
    db.session.refresh(experiment)
    if experiment.stats_pending and experiment.stats["count"] == count:
        experiment.stats = {**experiment.stats, "percentiles": percentiles}
        commit()


def also_with_trailing_slash(
    blueprint: flask.Blueprint, rules: Iterable[tuple[str, str, list[str]]]
) -> None:
    """Route ``<rule>/`` to the same view as ``<rule>`` (the seed's clients write
    ``/qps/``), for ``(rule, endpoint, methods)``. Only the spelling without the slash is
    in the OpenAPI document: flask's own ``add_url_rule`` adds the rule, not
    flask-smorest's, which would document it a second time."""
    for rule, endpoint, methods in rules:
        flask.Blueprint.add_url_rule(blueprint, rule + "/", endpoint=endpoint, methods=methods)
