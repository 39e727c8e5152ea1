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
    """Whether ``document`` nests more than ``limit`` levels of objects and arrays.

    Recursive, but never more than ``limit`` + 1 frames deep whatever the document, since it
    answers as soon as a container lies past the limit. Plain ``dict`` and ``list`` only (what
    JSON parsers make): exact type tests instead of ``isinstance`` and no per-child
    generator made it 3x faster (33 to 11 us for a perf/generate.py document), on every
    uploaded and imported result.
    """
    return (type(document) is dict or type(document) is list) and _past(document, limit)


def _past(container: dict | list, remaining: int) -> bool:
    if remaining == 0:
        return True
    for child in container.values() if type(container) is dict else container:
        if (type(child) is dict or type(child) is list) and _past(child, remaining - 1):
            return True
    return False
