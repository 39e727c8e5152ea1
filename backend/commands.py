"""``flask --app backend <command>``: operator commands."""

from __future__ import annotations

from flask import Flask


def register(app: Flask) -> None:
    """Attach the CLI commands to the app."""
