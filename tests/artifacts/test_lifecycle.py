"""Nothing orphaned, nothing lost: a blob goes only after the last row naming it, links
to deleted results or experiments are cleared (the artifact stays), and ``flask artifacts
gc`` removes what no row names and reports rows whose blob is gone."""

from __future__ import annotations

import uuid

from click.testing import CliRunner
from flask.cli import ScriptInfo

from backend.artifact_stores import current_store
from backend.artifact_stores.commands import artifacts_cli
from backend.extensions import db
from backend.models import Artifact
from factories import ExperimentFactory, ResultFactory
from tests.artifacts.conftest import upload


def gc(app, *arguments: str):
    return CliRunner().invoke(
        artifacts_cli, ["gc", *arguments], obj=ScriptInfo(create_app=lambda: app)
    )


def test_deleting_an_artifact_deletes_its_blob(client, user_headers):
    artifact = upload(client, user_headers, b"to be deleted")

    response = client.delete(f"/artifacts/{artifact['id']}", headers=user_headers)

    assert response.status_code == 204
    assert client.get(f"/artifacts/{artifact['id']}").status_code == 404
    assert list(current_store().keys()) == []


def test_a_blob_another_artifact_names_is_kept(client, user_headers, admin_headers):
    first = upload(client, user_headers, b"same bytes")
    second = upload(client, admin_headers, b"same bytes")

    client.delete(f"/artifacts/{first['id']}", headers=user_headers)

    assert client.get(f"/artifacts/{second['id']}/blob").data == b"same bytes"


def test_admins_may_delete_any_artifact(client, user_headers, admin_headers):
    artifact = upload(client, user_headers, b"x", visibility="private")

    assert client.delete(f"/artifacts/{artifact['id']}", headers=admin_headers).status_code == 204


def test_deleting_a_result_keeps_its_artifacts(client, user_headers, admin_headers):
    result = ResultFactory()
    artifact = upload(client, user_headers, b"log", kind="log", result_id=str(result.id))

    assert client.delete(f"/results/{result.id}", headers=admin_headers).status_code == 204

    kept = client.get(f"/artifacts/{artifact['id']}").json
    assert kept["result_id"] is None
    assert client.get(f"/artifacts/{artifact['id']}/blob").data == b"log"


def test_deleting_an_experiment_keeps_its_artifacts(client, user_headers):
    experiment = ExperimentFactory(experiment_id="sweep-1")
    artifact = upload(client, user_headers, b"cfg", kind="config", experiment_id="sweep-1")
    assert artifact["experiment_id"] == "sweep-1"

    db.session.delete(experiment)
    db.session.commit()

    assert client.get(f"/artifacts/{artifact['id']}").json["experiment_id"] is None


def test_gc_removes_blobs_no_row_names(client, user_headers, artifacts_app):
    kept = upload(client, user_headers, b"named")
    with current_store().writer() as writer:  # as a crash before the row was committed
        writer.write(b"orphan")
        orphan = writer.commit()

    young = gc(artifacts_app)
    old = gc(artifacts_app, "--grace-seconds", "0")

    assert young.exit_code == 0, young.output
    assert "0 unnamed blob(s) removed" in young.output
    assert old.exit_code == 0, old.output
    assert f"removed unnamed blob {orphan.key}" in old.output
    assert list(current_store().keys()) == [
        db.session.get(Artifact, uuid.UUID(kept["id"])).blob_key
    ]


def test_gc_reports_rows_whose_blob_is_missing(client, user_headers, artifacts_app):
    artifact = upload(client, user_headers, b"soon lost")
    current_store().delete(db.session.get(Artifact, uuid.UUID(artifact["id"])).blob_key)

    result = gc(artifacts_app)

    assert result.exit_code == 1
    assert f"artifact {artifact['id']}: its blob" in result.output
    assert "1 artifact(s) missing their blob" in result.output


def test_gc_dry_run_removes_nothing(client, user_headers, artifacts_app):
    with current_store().writer() as writer:
        writer.write(b"orphan")
        writer.commit()

    result = gc(artifacts_app, "--grace-seconds", "0", "--dry-run")

    assert "would remove unnamed blob" in result.output
    assert len(list(current_store().keys())) == 1


def test_its_owner_changes_metadata_description_and_visibility(client, user_headers):
    artifact = upload(client, user_headers, b"x", metadata='{"doi": "old"}')

    response = client.patch(
        f"/artifacts/{artifact['id']}",
        headers=user_headers,
        json={
            "metadata": {"doi": "10.5281/zenodo.7"},
            "description": "v2",
            "visibility": "private",
        },
    )

    assert response.status_code == 200, response.json
    assert response.json["metadata"] == {"doi": "10.5281/zenodo.7"}
    assert response.json["description"] == "v2"
    assert response.json["visibility"] == "private"


def test_a_patch_cannot_change_the_bytes_or_their_size(client, user_headers):
    artifact = upload(client, user_headers, b"x")

    response = client.patch(f"/artifacts/{artifact['id']}", headers=user_headers, json={"size": 9})

    assert response.status_code == 422
    assert "size" in response.json["errors"]["json"]
