"""The admin review operations every NeedsApprove resource offers: :approve and :reject."""

from __future__ import annotations

import uuid

from backend.routes.blueprint import Blueprint
from backend.unit_of_work import commit


def add_review_routes(blp: Blueprint, model: type, id_name: str, prefix: str) -> None:
    """Register ``POST <prefix>/<id>:approve`` and ``:reject`` for ``model`` on ``blp``."""
    kind = model.resource_type

    def approve(**path: uuid.UUID) -> None:
        model.get_or_404(path[id_name]).approve()
        commit()

    def reject(**path: uuid.UUID) -> None:
        model.get_or_404(path[id_name]).reject()
        commit()

    approve.__name__, reject.__name__ = f"approve_{kind}", f"reject_{kind}"
    approve.__doc__ = f"Approve a submitted {kind} so it is listed"
    reject.__doc__ = f"Reject (delete) a submitted {kind}; approved ones need DELETE"
    for view, action in ((approve, "approve"), (reject, "reject")):
        decorated = blp.response(204)(view)
        decorated = blp.access("admin")(decorated)
        blp.route(f"{prefix}/<uuid:{id_name}>:{action}", methods=["POST"])(decorated)
