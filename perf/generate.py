"""A deterministic data set for the load test, in the ``flask import`` JSON Lines format.

Shaped like the issue's scenario: 4 benchmarks (40% c-ray, 30% tf-cnn, 15% each of two
others, one c-ray- and one tf-cnn-shaped), 10 sites of 5 flavors, 20 tags (0 to 3 per
result), result documents of about 1.2 KB. The same arguments always give the same bytes
(a seeded RNG, no clock), so two measurements on "1M results" measure the same data::

    python perf/generate.py 1000000 > perf/data/1m.jsonl   # about 1.3 GB, a minute or two

The load driver (``perf/loadtest.py``) picks its query arguments by the names used here
(``C_RAY``, ``SITES``, ``TAGS``), so keep them in step.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

SAMPLES = Path(__file__).resolve().parent.parent / "backend" / "devtools" / "sample_data"
ISSUER = "https://perf.example.org"
UPLOADER = {"sub": "perf-loader", "iss": ISSUER}

C_RAY = "thechristophe/openbench-c-ray:latest"
TF_CNN = "deephdc/deep-oc-benchmarks_cnn:benchmark"
C_RAY_SMP = "perf-example/c-ray-smp:1.0"
TF_CNN_LITE = "perf-example/tf-cnn-lite:1.0"
#: (benchmark, document shape, share of the results)
BENCHMARKS = [
    (C_RAY, "c-ray", 0.40),
    (TF_CNN, "tf-cnn", 0.30),
    (C_RAY_SMP, "c-ray", 0.15),
    (TF_CNN_LITE, "tf-cnn", 0.15),
]
SITES = [
    "CESNET-MCC",
    "IFCA-LCG2",
    "IISAS-FedCloud",
    "NCG-INGRID-PT",
    "CESGA",
    "INFN-CLOUD-BARI",
    "CYFRONET-CLOUD",
    "BIFI",
    "GRNET-OPENSTACK",
    "SCAI",
]
#: Each site's five flavors as (name, cores, gpus); core counts 1 to 32.
FLAVOR_SHAPES = [("small", 1, 0), ("medium", 2, 0), ("large", 4, 0), ("hpc", 8, 1)]
XL_CORES = [16, 32]
TAGS = [f"tag-{n:02d}" for n in range(20)]
FIRST_RUN = datetime(2019, 1, 1, tzinfo=UTC)
LAST_RUN = datetime(2025, 1, 1, tzinfo=UTC)
CPU_FLAGS = (  # noqa: SIM905 - a list literal of 50 flags would take 50 lines
    "3dnowprefetch abm adx aes apic avx avx2 avx512f bmi1 bmi2 clflush cmov cx16 cx8 de "
    "erms f16c fma fpu fsgsbase fxsr hypervisor lahf_lm lm mca mce mmx movbe msr mtrr nx "
    "pae pat pclmulqdq pge popcnt pse rdrand rdseed sep smap smep sse sse2 sse4_1 sse4_2 "
    "ssse3 syscall tsc vme x2apic xsave"
).split()
CPUS = [
    ("Intel Xeon Processor (Skylake, IBRS)", "GenuineIntel", 2294608000),
    ("AMD EPYC 7742 64-Core Processor", "AuthenticAMD", 2250000000),
    ("Intel Xeon Gold 6230 CPU @ 2.10GHz", "GenuineIntel", 2100000000),
]
MODELS = ["googlenet", "inception3", "resnet50", "vgg16"]
#: tf-cnn results declare their numbers, so that JSON filters and sorts on them are indexed.
TF_CNN_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "properties": {
        "machine_config": {
            "type": "object",
            "properties": {
                "cpu_info": {
                    "type": "object",
                    "properties": {"num_cores": {"type": "integer"}},
                },
                "gpu_info": {
                    "type": "object",
                    "properties": {"count": {"type": "integer"}},
                },
            },
        },
        "training": {
            "type": "object",
            "properties": {
                "num_gpus": {"type": "integer"},
                "score": {"type": "number", "description": "Examples per second, summed"},
            },
            "required": ["score"],
        },
    },
    "required": ["training"],
}


def flavors(site_index: int) -> list[tuple[str, int, int]]:
    """The five flavors of a site: four common shapes and one big one (16 or 32 cores)."""
    cores = XL_CORES[site_index % len(XL_CORES)]
    return [*FLAVOR_SHAPES, (f"xl.{cores}core", cores, 4)]


def catalogue() -> Iterator[dict[str, Any]]:
    yield {"type": "user", **UPLOADER, "email": "perf-loader@example.org"}
    for name in TAGS:
        yield {"type": "tag", "name": name, "description": f"Label {name}"}
    for index, site in enumerate(SITES):
        yield {
            "type": "site",
            "name": site,
            "address": f"{site.lower()}.cloud.example.org",
            "description": f"The {site} cloud site",
        }
        for name, cores, gpus in flavors(index):
            yield {
                "type": "flavor",
                "site": site,
                "name": name,
                "description": f"{cores} cores, {gpus} GPUs",
            }
    c_ray_schema = json.loads((SAMPLES / "c-ray" / "schema.json").read_text())
    for reference, shape, _ in BENCHMARKS:
        image, tag = reference.rsplit(":", 1)
        yield {
            "type": "benchmark",
            "docker_image": image,
            "docker_tag": tag,
            "url": f"https://example.org/benchmarks/{shape}",
            "description": f"A {shape} benchmark",
            "json_schema": c_ray_schema if shape == "c-ray" else TF_CNN_SCHEMA,
        }


def c_ray_document(rng: random.Random, cores: int) -> dict[str, Any]:
    brand, vendor, hz = rng.choice(CPUS)
    runs = [round(rng.uniform(600, 2400) / cores * rng.uniform(0.9, 1.1), 3) for _ in range(3)]
    return {
        "arguments": "Total Time - 4K, 16 Rays Per Pixel",
        "machine": {
            "cpu": {
                "arch": "X86_64",
                "arch_string_raw": "x86_64",
                "bits": 64,
                "brand_raw": brand,
                "count": cores,
                "cpuinfo_version": [7, 0, 0],
                "cpuinfo_version_string": "7.0.0",
                "family": 6,
                "flags": sorted(rng.sample(CPU_FLAGS, 44)),
                "hz_actual": [hz, 0],
                "hz_actual_friendly": f"{hz / 1e9:.4f} GHz",
                "hz_advertised": [hz, 0],
                "hz_advertised_friendly": f"{hz / 1e9:.4f} GHz",
                "l1_data_cache_size": f"{32 * cores} KiB",
                "l1_instruction_cache_size": f"{32 * cores} KiB",
                "l2_cache_associativity": 8,
                "l2_cache_line_size": 512,
                "l2_cache_size": "32 MiB",
                "l3_cache_size": 16777216,
                "model": 85,
                "python_version": "3.8.5.final.0 (64 bit)",
                "stepping": 4,
                "vendor_id_raw": vendor,
            }
        },
        "result": {
            "all_results": ":".join(f"{run:.3f}" for run in runs),
            "score": round(sum(runs) / 3, 3),
        },
        "test": "pts/c-ray-1.2.0",
        "units": "Seconds",
    }


def tf_cnn_document(rng: random.Random, cores: int, gpus: int) -> dict[str, Any]:
    devices = max(gpus, 1)
    training: dict[str, Any] = {
        "device": "gpu" if gpus else "cpu",
        "num_gpus": gpus,
        "optimizer": "sgd",
        "allow_growth": True,
        "data_format": "NCHW",
        "local_parameter_device": "cpu",
        "variable_update": "parameter_server",
        "use_fp16": rng.random() < 0.5,
        "models": MODELS,
    }
    for model in MODELS:
        training[model] = {
            "batch_size": 240 * devices,
            "num_batches": 100,
            "average_examples_per_sec": round(rng.uniform(150, 1600) * devices, 6),
            "execution_time_sec": round(rng.uniform(40, 150), 6),
        }
    training["score"] = round(sum(training[m]["average_examples_per_sec"] for m in MODELS), 6)
    return {
        "machine_config": {
            "cpu_info": {
                "num_cores": cores,
                "cpu_info": rng.choice(CPUS)[0],
                "mhz_per_cpu": round(rng.uniform(2000, 3400), 3),
            },
            "gpu_info": {"count": gpus, "model": "A100-SXM4-40GB", "memory": 39420913408},
            "memory_total": 1082004615168,
            "memory_available": 1062752710656 - rng.randrange(10**9),
        },
        "benchmark": {
            "version": "0.6.0",
            "flavor": rng.choice(["synthetic", "dataset"]),
            "docker_base_image": "nvcr.io/nvidia/tensorflow:20.06-tf2-py3",
            "tf_version": "2.2.0",
        },
        "training": training,
        "global_execution_time_sec": round(rng.uniform(300, 900), 6),
    }


def results(count: int, seed: int) -> Iterator[dict[str, Any]]:
    """``count`` results spread evenly over 2019-2024, in random order of time."""
    rng = random.Random(seed)
    span = int((LAST_RUN - FIRST_RUN).total_seconds())
    references = [reference for reference, _, _ in BENCHMARKS]
    shares = [share for _, _, share in BENCHMARKS]
    shapes = dict((reference, shape) for reference, shape, _ in BENCHMARKS)
    for _ in range(count):
        reference = rng.choices(references, shares)[0]
        site_index = rng.randrange(len(SITES))
        flavor, cores, gpus = rng.choice(flavors(site_index))
        if shapes[reference] == "c-ray":
            document = c_ray_document(rng, cores)
        else:
            document = tf_cnn_document(rng, cores, gpus)
        executed = FIRST_RUN + timedelta(seconds=rng.randrange(span))
        yield {
            "type": "result",
            "benchmark": reference,
            "site": SITES[site_index],
            "flavor": flavor,
            "tags": sorted(rng.sample(TAGS, rng.randrange(4))),
            "execution_datetime": executed.isoformat(),
            "uploader": UPLOADER,
            "json": document,
        }


def write(count: int, seed: int, out: TextIO) -> None:
    for record in catalogue():
        out.write(json.dumps(record, separators=(",", ":")) + "\n")
    for record in results(count, seed):
        out.write(json.dumps(record, separators=(",", ":")) + "\n")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=int, help="how many results to generate")
    parser.add_argument("--seed", type=int, default=1, help="RNG seed (default 1)")
    args = parser.parse_args(argv)
    write(args.results, args.seed, sys.stdout)


if __name__ == "__main__":
    main()
