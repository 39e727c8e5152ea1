"""GET /health: the process is alive (for liveness probes; touches no dependency)."""

from flask import Blueprint

blp = Blueprint("health", __name__)


@blp.route("/health")
def health():
    return {"status": "ok"}
