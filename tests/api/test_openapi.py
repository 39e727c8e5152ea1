"""GET /api-spec.json: a valid OpenAPI document that says who may call what.

The document is also compared with the committed snapshot openapi-snapshot.json, so that
every change to the public contract shows up in review. After an intended change, rewrite
the snapshot with:

    UPDATE_SNAPSHOT=1 python -m pytest tests/api/test_openapi.py
"""

import difflib
import json
import os
from collections import Counter
from pathlib import Path

from openapi_spec_validator import validate

from tests.api.spec import ACCESS_LABELS, access_label, operations

SNAPSHOT = Path(__file__).with_name("openapi-snapshot.json")
REGENERATE = "UPDATE_SNAPSHOT=1 python -m pytest tests/api/test_openapi.py"


def get_spec(client):
    response = client.get("/api-spec.json")
    assert response.status_code == 200
    return response.json


def test_spec_is_valid_openapi(client):
    spec = get_spec(client)

    validate(spec)
    assert spec["openapi"].startswith("3.")


def test_operation_ids_are_unique(client):
    ids = [operation.get("operationId") for _, _, operation in operations(get_spec(client))]

    assert None not in ids
    assert [name for name, count in Counter(ids).items() if count > 1] == []


def test_every_summary_starts_with_its_access_level(client):
    unlabelled = [
        f"{method} {path}: {operation.get('summary')!r}"
        for method, path, operation in operations(get_spec(client))
        if access_label(operation) is None
    ]

    assert unlabelled == [], f"summaries must start with one of {ACCESS_LABELS}"


def test_protected_operations_declare_bearer_security(client):
    spec = get_spec(client)
    assert spec["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
    }

    wrong = []
    for method, path, operation in operations(spec):
        public = access_label(operation) == "(Public)"
        security = operation.get("security")
        if public and security not in (None, []):
            wrong.append(f"{method} {path} is public but declares {security}")
        if not public and security != [{"bearerAuth": []}]:
            wrong.append(f"{method} {path} needs a token but declares {security}")
        if not public and "401" not in operation["responses"]:
            wrong.append(f"{method} {path} does not document 401")

    assert wrong == []


def contract(spec: dict) -> dict:
    """The parts of the document a client depends on: paths, operations, schemas."""
    return {"paths": spec["paths"], "components": {"schemas": spec["components"]["schemas"]}}


def render(document: dict) -> str:
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def test_spec_matches_the_committed_snapshot(client):
    current = render(contract(get_spec(client)))
    if os.environ.get("UPDATE_SNAPSHOT") == "1":
        SNAPSHOT.write_text(current, encoding="utf-8")
    committed = SNAPSHOT.read_text(encoding="utf-8") if SNAPSHOT.exists() else ""

    if current != committed:
        diff = difflib.unified_diff(
            committed.splitlines(),
            current.splitlines(),
            "openapi-snapshot.json (committed)",
            "/api-spec.json (now)",
            lineterm="",
        )
        print("\n".join(list(diff)[:200]))
        print(f"\nIf this change to the API is intended, regenerate the snapshot:\n  {REGENERATE}")
    assert current == committed, f"the API changed; if intended, run: {REGENERATE}"
