"""GET /: Swagger UI, served from the files of the swagger-ui-bundle package.

No CDN: the page must work on machines without internet, and the scripts are files, not
inline code, so a strict Content-Security-Policy can allow them.
"""

from __future__ import annotations

from flask import Blueprint, render_template, send_from_directory
from swagger_ui_bundle import swagger_ui_path

blp = Blueprint("docs", __name__, template_folder="../templates", static_folder="../static")


@blp.route("/")
def swagger_ui():
    return render_template("swagger_ui.html")


@blp.route("/swagger-ui/<path:filename>")
def swagger_asset(filename: str):
    return send_from_directory(str(swagger_ui_path), filename, max_age=86400)
