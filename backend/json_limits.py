"""How deeply the JSON documents the service keeps may nest: results and benchmark schemas.

Every walk over a document (the NUL check, jsonschema, the fast schema check, the JSON
encoders) descends one Python frame or more per level, and Python stops at 1,000 frames:
a result nested 1,000 levels deep, or a schema nested 900, crashed the request with a
``RecursionError`` (500). The limits are far below that and far above real documents (a
c-ray result nests 4 levels, its schema 9); the depth is checked once, without recursion,
before anything else walks the document, and a deeper one is refused with a 422.
"""

from __future__ import annotations

from typing import Any

#: The most levels of objects and arrays a result document may nest (``{"a": 1}`` is 1).
RESULT_MAX_DEPTH = 64
#: The same for a benchmark's ``json_schema`` (each subschema level takes about two).
SCHEMA_MAX_DEPTH = 64


def deeper_than(document: Any, limit: int) -> bool:
    """Whether ``document`` nests more than ``limit`` levels of objects and arrays; found
    with a stack instead of recursion, so that any depth is answered."""
    stack = [(document, 1)] if isinstance(document, dict | list) else []
    while stack:
        value, level = stack.pop()
        if level > limit:
            return True
        children = value.values() if isinstance(value, dict) else value
        stack.extend((child, level + 1) for child in children if isinstance(child, dict | list))
    return False
