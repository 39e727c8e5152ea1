"""Reading the live OpenAPI document: the operations every contract-wide test walks."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

HTTP_METHODS = ("get", "put", "post", "delete", "patch")

#: The access level an operation's summary starts with (see backend/routes/blueprint.py).
ACCESS_LABELS = ("(Public)", "(OIDC token)", "(Users)", "(Admins)", "(Owner or admin)")


def operations(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """Every (METHOD, path template, operation) of the document, in document order."""
    for path, item in spec["paths"].items():
        for method in HTTP_METHODS:
            if method in item:
                operation = dict(item[method])
                operation["parameters"] = item.get("parameters", []) + operation.get(
                    "parameters", []
                )
                yield method.upper(), path, operation


def access_label(operation: dict[str, Any]) -> str | None:
    summary = operation.get("summary") or ""
    return next((label for label in ACCESS_LABELS if summary.startswith(label)), None)


def path_parameters(operation: dict[str, Any]) -> list[str]:
    return [p["name"] for p in operation["parameters"] if p["in"] == "path"]


def with_random_ids(path: str, operation: dict[str, Any]) -> str:
    """The path with a random UUID in every path parameter (the first of its values for a
    parameter that takes a fixed set, such as /storage/{resource})."""
    for parameter in operation["parameters"]:
        if parameter["in"] == "path":
            choices = parameter.get("schema", {}).get("enum")
            value = choices[0] if choices else str(uuid.uuid4())
            path = path.replace("{" + parameter["name"] + "}", value)
    return path
