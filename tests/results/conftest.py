"""The c-ray sample results (real EOSC runs), uploaded through the API against their
benchmark's real JSON Schema, one flavor per site and core count."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from factories import BenchmarkFactory, FlavorFactory, SiteFactory

SAMPLES = Path(__file__).resolve().parents[2] / "backend" / "devtools" / "sample_data" / "c-ray"
EXECUTED = "2022-10-14T23:21:47+01:00"


@dataclass
class Upload:
    file: str
    document: dict
    id: str


def sample_files() -> list[Path]:
    return sorted(p for p in SAMPLES.glob("*.json") if p.name != "schema.json")


@pytest.fixture
def cray_benchmark():
    schema = json.loads((SAMPLES / "schema.json").read_text())
    return BenchmarkFactory(
        docker_image="thechristophe/openbench-c-ray", docker_tag="latest", json_schema=schema
    )


def upload(client, headers, benchmark, flavor, document, **query):
    """POST /results of ``document``: JSON-encoded, or sent as it is when it is text (a body
    the test client could not encode, such as one nested 1,000 deep)."""
    body = {"data": document} if isinstance(document, str) else {"json": document}
    return client.post(
        "/results",
        query_string={
            "execution_datetime": EXECUTED,
            "benchmark_id": str(benchmark.id),
            "flavor_id": str(flavor.id),
            **query,
        },
        content_type="application/json",
        headers=headers,
        **body,
    )


@pytest.fixture
def cray_uploads(client, user_headers, cray_benchmark) -> list[Upload]:
    """Every c-ray sample file uploaded once, on a flavor '<cores>cores' of its site."""
    sites, uploads = {}, []
    for path in sample_files():
        site_name, cores = path.stem.rsplit("-", 1)
        site = sites.get(site_name) or sites.setdefault(
            site_name, SiteFactory(name=site_name.upper())
        )
        flavor = FlavorFactory(site=site, name=f"{cores}cores")
        document = json.loads(path.read_text())
        response = upload(client, user_headers, cray_benchmark, flavor, document)
        assert response.status_code == 201, response.json
        uploads.append(Upload(path.name, document, response.json["id"]))
    return uploads
