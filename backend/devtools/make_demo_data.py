"""Build ``sample_data/demo.jsonl``, the demo data set in the ``flask import`` format,
from the sample result files next to it (real EOSC Performance results, MIT licence).

Run it again after changing the sample files or the catalogue below; the output is
deterministic, so an unchanged input gives an unchanged file::

    python -m backend.devtools.make_demo_data [--output PATH]

The file names no uploader: load it with ``--uploader SUB ISS`` naming a registered user
(docs/import-export.md shows how the demo user gets registered first).
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from backend.bulk import write_records

SAMPLES = Path(__file__).resolve().parent / "sample_data"
DEMO_FILE = SAMPLES / "demo.jsonl"

C_RAY = "thechristophe/openbench-c-ray:latest"
TF_CNN = "deephdc/deep-oc-benchmarks_cnn:benchmark"

#: Site name by file-name prefix, with an address (the operating institution's host).
SITES = {
    "ifca-lcg2": ("IFCA-LCG2", "ifca.es"),
    "cesnet-mcc": ("CESNET-MCC", "cesnet.cz"),
    "iisas-fedcloud": ("IISAS-FedCloud", "ui.savba.sk"),
    "ncg-ingrid-pt": ("NCG-INGRID-PT", "incd.pt"),
    "cesga": ("CESGA", "cesga.es"),
    "forhlr2": ("FORHLR2", "scc.kit.edu"),
}

#: The flavor each site used per core count (the table of sample_data/README.md).
C_RAY_FLAVORS = {
    "IFCA-LCG2": {1: "m1.small", 2: "cm4.large", 4: "m1.large", 8: "m1.xlarge", 16: "cm4.4xlarge"},
    "CESNET-MCC": {
        1: "standard.small",
        2: "standard.medium",
        4: "standard.large",
        8: "hpc.8core-16ram",
    },
    "IISAS-FedCloud": {1: "m1.small", 2: "m1.medium", 4: "m1.large", 8: "m1.xlarge"},
    "NCG-INGRID-PT": {
        1: "svc1.s",
        2: "svc2.s",
        4: "svc2.m",
        8: "svc2.l",
        16: "svc2.xl",
        32: "svc2.xxl",
    },
    "CESGA": {1: "cor1mem2hd10", 2: "cor2mem2hd20", 4: "cor4mem4hd40"},
}

TAGS = {
    "cpu": "Runs on CPUs only.",
    "gpu": "Uses GPU accelerators.",
    "hpc": "Ran on an HPC system or an HPC flavor.",
}

#: A small schema for the tf-cnn results: an overall score is what people compare.
TF_CNN_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "properties": {
        "training": {
            "type": "object",
            "properties": {
                "score": {
                    "type": "number",
                    "description": "Sum of the models' average examples per second "
                    "(higher is better)",
                }
            },
            "required": ["score"],
        }
    },
    "required": ["training"],
}

#: c-ray files carry no run time: they get one each, an hour apart, from this moment.
C_RAY_FIRST_RUN = datetime(2021, 3, 1, 9, 0, tzinfo=UTC)


def c_ray_files() -> list[tuple[Path, str, int]]:
    """The c-ray result files as (path, site name, core count), in a stable order."""
    found = []
    for path in sorted((SAMPLES / "c-ray").glob("*-*.json")):
        match = re.fullmatch(r"(?P<site>.+)-(?P<cores>\d+)\.json", path.name)
        if match:
            found.append((path, SITES[match["site"]][0], int(match["cores"])))
    return found


def tf_cnn_files() -> list[Path]:
    return sorted((SAMPLES / "tf-cnn").glob("*.json"))


def records() -> Iterator[dict[str, Any]]:
    """Every demo record in import order: tags, sites, flavors, benchmarks, results."""
    for name, description in TAGS.items():
        yield {"type": "tag", "name": name, "description": description}
    for site, address in SITES.values():
        yield {
            "type": "site",
            "name": site,
            "address": address,
            "description": "Site of the EOSC Performance sample results.",
        }
    for site, flavors in C_RAY_FLAVORS.items():
        for cores, flavor in flavors.items():
            yield {
                "type": "flavor",
                "site": site,
                "name": flavor,
                "description": f"{cores} vCPU{'s' if cores > 1 else ''}",
            }
    yield {
        "type": "flavor",
        "site": "FORHLR2",
        "name": "haicore_gpu8",
        "description": "8x NVIDIA A100-SXM4-40GB, 256 CPU cores",
    }
    yield {
        "type": "benchmark",
        "docker_image": C_RAY.split(":")[0],
        "docker_tag": C_RAY.split(":")[1],
        "url": "https://openbenchmarking.org/test/pts/c-ray",
        "description": "Compare cpu perf with multithreaded raytracing",
        "json_schema": json.loads((SAMPLES / "c-ray" / "schema.json").read_text()),
    }
    yield {
        "type": "benchmark",
        "docker_image": TF_CNN.split(":")[0],
        "docker_tag": TF_CNN.split(":")[1],
        "url": "https://hub.docker.com/r/deephdc/deep-oc-benchmarks_cnn",
        "description": "TensorFlow CNN training (googlenet, inception3, resnet50, vgg16) "
        "on GPUs; training.score sums the examples per second",
        "json_schema": TF_CNN_SCHEMA,
    }
    for index, (path, site, cores) in enumerate(c_ray_files()):
        flavor = C_RAY_FLAVORS[site][cores]
        yield {
            "type": "result",
            "benchmark": C_RAY,
            "site": site,
            "flavor": flavor,
            "tags": ["cpu", "hpc"] if "hpc" in flavor else ["cpu"],
            "execution_datetime": (C_RAY_FIRST_RUN + timedelta(hours=index)).isoformat(),
            "json": json.loads(path.read_text()),
        }
    for path in tf_cnn_files():
        document = json.loads(path.read_text())
        started = datetime.fromisoformat(document["global_start_time"]).astimezone(UTC)
        yield {
            "type": "result",
            "benchmark": TF_CNN,
            "site": "FORHLR2",
            "flavor": "haicore_gpu8",
            "tags": ["gpu", "hpc"],
            "execution_datetime": started.isoformat(),
            "json": document,
        }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=DEMO_FILE)
    args = parser.parse_args(argv)
    with args.output.open("w", encoding="utf-8") as out:
        write_records(records(), out)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
