"""Exact latency statistics (no sketches), with numpy: what ``GET /experiments/{id}/stats``
and the histogram answer, for one job and for all samples of an experiment.

- Computed when latencies are written and stored (``summarize``), so a stats request reads
  a few small rows: a 1,000,000-sample job takes about 60 ms here. Over all jobs, count,
  min, max, mean and stddev follow from the jobs' figures (``combine``, no sample read);
  the merged percentiles need every sample (``streamed_percentiles``, two passes over
  the stored chunks: 10 jobs of 1,000,000 took 1.6 s to read back from PostgreSQL on this
  loaded machine, and 1.6 s to select in), so they are completed after the write and
  stored. Other percentiles than
  the defaults (``?percentiles=``) are computed on demand from the stored samples: one
  read of 8 bytes per sample and a selection, O(n), about 0.2 s per million samples.
- ``count``, ``min``, ``max`` and the percentiles are exact. A job's ``mean`` is numpy's
  (``np.mean``, pairwise summation over the samples in posted order), bit for bit; the
  merged mean is the exactly rounded sum of the jobs' sums over the count, equal to
  numpy's on the concatenated samples to the last bits. ``stddev`` is the population
  standard deviation (ddof=0, numpy's default; a job is all of its samples, not a sample
  of a larger population), summed in chunks of ``CHUNK`` samples so that no second copy
  of a 10,000,000-sample buffer is made: equal to ``np.std`` up to the last bits of
  floating-point summation (bit for bit up to ``CHUNK`` samples); merged by Chan's
  pairwise formula from the jobs' counts, means and deviations. Where numpy's sums
  overflow to infinity (samples near the largest double, 1.8e308), mean and stddev are
  computed on the samples scaled by a power of two: finite and correct, where numpy
  would say ``inf`` (which JSON cannot carry).
- Two percentile definitions, both stored for the defaults: ``linear`` interpolates
  between the closest ranks (numpy's default, PostgreSQL's ``percentile_cont``), computed
  by ``np.percentile`` itself; ``loadgen`` is MLPerf LoadGen's, the sample at index
  floor(n·p) of the sorted samples (clamped to the last), with p the fraction nearest the
  percentile's decimal spelling, as LoadGen's C++ literals (0.999 for 99.9). With
  ``loadgen`` the mean is LoadGen's too: its integer nanoseconds summed exactly and
  divided with truncation (as its summary prints it), for samples that are whole numbers.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from fractions import Fraction
from typing import Any

import numpy as np
import orjson

#: The percentiles stored for every job and experiment, as query strings spell them.
DEFAULT_PERCENTILES = ("50", "90", "95", "99", "99.9")
METHODS = ("linear", "loadgen")
#: Samples per step of the standard deviation's sum (8 MB of temporary memory).
CHUNK = 1 << 20
#: Integral sums below this are exact in int64 (LoadGen's mean).
_INT64_SAFE = 2**62


class LatencyError(ValueError):
    """A latency list that cannot be stored; the message names the problem (and index)."""


def samples_from_list(values: Any) -> np.ndarray:
    """The float64 array of a posted latency list, or LatencyError naming the first bad
    value and its index: not a number (booleans included), NaN, ±Infinity, negative.
    A float64 array is one ``latencies_from_json`` read and checked already.

    One pass over the Python objects' types (set of types: about 15 ms per million),
    then vectorised checks: the slow item-by-item search runs only to name an error.
    """
    if isinstance(values, np.ndarray) and values.dtype == np.float64 and values.ndim == 1:
        return values
    if not isinstance(values, list):
        raise LatencyError("Must be a list of numbers.")
    if not values:
        raise LatencyError("The list is empty; send at least one latency.")
    if not set(map(type, values)) <= {float, int}:
        index, value = next(
            (i, v) for i, v in enumerate(values) if type(v) is not float and type(v) is not int
        )
        raise LatencyError(f"latencies[{index}] is {_shown(value)}, not a number.")
    try:
        samples = np.array(values, dtype=np.float64)
    except OverflowError:
        index = next(i for i, v in enumerate(values) if abs(v) > np.finfo(np.float64).max)
        raise LatencyError(f"latencies[{index}] is too large for a double.") from None
    refuse_bad_samples(samples)
    return samples


#: Where the latency list of a JSON body starts (its key, at any depth; checked after).
_LATENCIES_ARRAY = re.compile(rb'"latencies"[ \t\n\r]*:[ \t\n\r]*\[')
#: Bytes of JSON numbers read per step (about 55,000 samples, 2.5 MB of Python floats).
_STEP_BYTES = 1 << 20


def latencies_from_json(body: bytes, max_samples: int) -> dict | None:
    """The JSON object ``body``, its top-level ``latencies`` list read straight into a
    float64 array (checked as ``samples_from_list`` does); None for anything else, which
    the caller then reads the general way, so that every error is told as before.

    orjson would make a Python float per sample (a million take 32 MB, for an 8 MB
    array): here the list is read a megabyte of text at a time into one array of its
    size. Its end is the first ``]`` after its start, and the rest of the body (the list
    replaced by ``null``) must be an object with that key once and null there: a list
    holding anything but numbers, or another ``latencies`` key, falls back. More than
    ``max_samples`` falls back too (the schema refuses it with its 413).
    """
    found = _LATENCIES_ARRAY.search(body)
    if found is None:
        return None
    start = found.end()
    end = body.find(b"]", start)
    if end < 0:
        return None
    rest = body[: start - 1] + b"null" + body[end + 1 :]
    if rest.count(b'"latencies"') != 1:
        return None
    try:
        document = orjson.loads(rest)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(document, dict) or document.get("latencies", 0) is not None:
        return None
    count = body.count(b",", start, end) + 1
    if count > max_samples:
        return None
    samples = np.empty(count, dtype=np.float64)
    filled, position = 0, start
    while position <= end:
        cut = body.find(b",", min(position + _STEP_BYTES, end), end)
        cut = end if cut < 0 else cut
        try:
            part = samples_from_list(orjson.loads(b"[" + body[position:cut] + b"]"))
        except (orjson.JSONDecodeError, LatencyError):
            return None
        if filled + part.size > count:
            return None
        samples[filled : filled + part.size] = part
        filled, position = filled + part.size, cut + 1
    if filled != count:
        return None
    document["latencies"] = samples
    return document


def refuse_bad_samples(samples: np.ndarray) -> None:
    """LatencyError for the first NaN, infinite or negative sample, naming its index."""
    bad = ~np.isfinite(samples) | (samples < 0)
    if not bad.any():
        return
    index = int(np.argmax(bad))
    value = float(samples[index])
    if np.isnan(value):
        problem = "NaN"
    elif np.isinf(value):
        problem = "Infinity" if value > 0 else "-Infinity"
    else:
        problem = f"negative ({value!r})"
    raise LatencyError(f"latencies[{index}] is {problem}; latencies must be finite numbers >= 0.")


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def percentile_key(text: str) -> str:
    """The canonical spelling of a percentile (``'99.90'`` -> ``'99.9'``), or LatencyError
    unless it is a decimal number from 0 to 100."""
    try:
        value = Fraction(text.strip())
    except (ValueError, ZeroDivisionError):
        raise LatencyError(f"'{text}' is not a percentile (a number from 0 to 100).") from None
    if not 0 <= value <= 100:
        raise LatencyError(f"'{text}' is not a percentile (a number from 0 to 100).")
    return f"{float(value):.12f}".rstrip("0").rstrip(".")


def summarize(buffer: np.ndarray, percentiles: Sequence[str] = DEFAULT_PERCENTILES) -> dict:
    """The statistics of the samples in ``buffer``, a float64 array in posted order that
    this reorders (partitions) in place: no copy of it is made.

    ``{"count", "min", "max", "mean", "stddev", "loadgen_mean", "percentiles": {"linear":
    {key: value}, "loadgen": {key: value}}}``, plain Python numbers (JSON-ready).
    """
    count = int(buffer.size)
    mean = _mean(buffer)
    stats = {
        "count": count,
        "min": float(buffer.min()),
        "max": float(buffer.max()),
        "mean": mean,
        "stddev": _stddev(buffer, mean),
        "integer_sum": _integer_sum(buffer),
    }
    stats["loadgen_mean"] = _loadgen_mean(stats["integer_sum"], count, mean)
    stats["percentiles"] = percentiles_of(buffer, percentiles)
    return stats


def combine(jobs: Sequence[dict]) -> dict:
    """The statistics of all samples of several jobs from theirs (``summarize``'s), without
    reading a sample: count, min, max exactly; the mean as the exactly rounded sum of the
    jobs' sums over the count, the standard deviation by Chan's pairwise combination (both
    equal numpy's on the concatenated samples up to floating-point rounding), LoadGen's
    mean from the jobs' exact integer sums. ``percentiles`` is None: exact percentiles of
    the union need its samples (``percentiles_of``), unless there is one job."""
    if len(jobs) == 1:
        return dict(jobs[0])
    count = sum(job["count"] for job in jobs)
    largest = max(job["max"] for job in jobs)
    scale = 2.0 ** -math.frexp(largest)[1] if largest > 0 else 1.0
    mean = math.fsum(job["mean"] * scale * job["count"] for job in jobs) / count / scale
    spread = math.fsum(
        job["count"] * ((job["stddev"] * scale) ** 2 + ((job["mean"] - mean) * scale) ** 2)
        for job in jobs
    )
    sums = [job["integer_sum"] for job in jobs]
    integer_sum = sum(sums) if None not in sums else None
    return {
        "count": count,
        "min": min(job["min"] for job in jobs),
        "max": largest,
        "mean": mean,
        "stddev": math.sqrt(spread / count) / scale,
        "integer_sum": integer_sum,
        "loadgen_mean": _loadgen_mean(integer_sum, count, mean),
        "percentiles": None,
    }


def percentiles_of(buffer: np.ndarray, percentiles: Sequence[str]) -> dict[str, dict]:
    """``{"linear": {key: value}, "loadgen": {key: value}}`` for the given percentile keys;
    reorders ``buffer`` in place."""
    keys = [percentile_key(p) for p in percentiles]
    if not keys:
        return {"linear": {}, "loadgen": {}}
    linear = np.percentile(buffer, [float(k) for k in keys], overwrite_input=True)
    indices = [loadgen_index(buffer.size, k) for k in keys]
    buffer.partition(sorted(set(indices)))
    return {
        "linear": {k: float(v) for k, v in zip(keys, linear, strict=True)},
        "loadgen": {k: float(buffer[i]) for k, i in zip(keys, indices, strict=True)},
    }


def streamed_percentiles(
    chunks: Callable[[], Iterable[np.ndarray]], count: int, percentiles: Sequence[str]
) -> dict[str, dict]:
    """``percentiles_of`` for samples read chunk by chunk (``chunks()`` is called twice),
    holding a chunk and a few bins in memory rather than all of them: the merged
    percentiles of 10,000,000 samples needed an 80 MB buffer, in the worker that also
    takes the next write.

    Pass 1 counts the samples per bin of their top 16 bits (sign, exponent and 4 bits of
    mantissa: for numbers >= 0 the order of the bit patterns is the order of the values);
    pass 2 keeps the samples of the bins that hold a wanted rank, where a selection finds
    it. The linear percentiles then interpolate as numpy does, with its formula."""
    keys = [percentile_key(p) for p in percentiles]
    virtual = [(count - 1) * np.true_divide(float(k), 100) for k in keys]
    neighbours = [_linear_ranks(v, count) for v in virtual]
    loadgen = [loadgen_index(count, k) for k in keys]
    wanted = sorted({r for pair in neighbours for r in pair} | set(loadgen))
    counts = np.zeros(1 << 16, dtype=np.int64)
    for chunk in chunks():
        counts += np.bincount(_bins(chunk), minlength=1 << 16)
    ends = np.cumsum(counts)
    bin_of = {rank: int(np.searchsorted(ends, rank, side="right")) for rank in wanted}
    kept: dict[int, list[np.ndarray]] = {b: [] for b in set(bin_of.values())}
    selected = np.array(sorted(kept), dtype=np.int64)
    for chunk in chunks():
        bins = _bins(chunk)
        if np.isin(bins, selected).any():
            for b in kept:
                kept[b].append(chunk[bins == b])
    values = {}
    for rank, b in bin_of.items():
        members = np.concatenate(kept[b])
        position = rank - (int(ends[b - 1]) if b else 0)
        values[rank] = float(np.partition(members, position)[position])
    return {
        "linear": {
            k: _lerp(values[lo], values[hi], v - np.floor(v)) if lo != hi else values[lo]
            for k, v, (lo, hi) in zip(keys, virtual, neighbours, strict=True)
        },
        "loadgen": {k: values[i] for k, i in zip(keys, loadgen, strict=True)},
    }


def _bins(chunk: np.ndarray) -> np.ndarray:
    """Top 16 bits of each sample's float64 pattern (+0.0 for -0.0, so 0 comes first)."""
    return ((chunk + 0.0).view(np.uint64) >> np.uint64(48)).astype(np.int64)


def _linear_ranks(virtual: float, count: int) -> tuple[int, int]:
    """The ranks numpy interpolates between for a virtual index (its ``_get_indexes``)."""
    if virtual >= count - 1:
        return count - 1, count - 1
    if virtual < 0:
        return 0, 0
    below = int(np.floor(virtual))
    return below, below + 1


def _lerp(a: float, b: float, t: float) -> float:
    """numpy's linear interpolation, step for step (``np.percentile``'s ``_lerp``)."""
    a, b, t = np.float64(a), np.float64(b), np.float64(t)
    difference = b - a
    if t >= 0.5:
        return float(b - difference * (1 - t))
    return float(a + difference * t)


def loadgen_index(count: int, key: str) -> int:
    """LoadGen's index of a percentile among ``count`` sorted samples: floor(n·p), with p
    the double nearest the decimal fraction (as LoadGen's 0.999), at most n - 1."""
    fraction = float(Fraction(key) / 100)
    return min(int(count * fraction), count - 1)


def _mean(buffer: np.ndarray) -> float:
    """``np.mean``; where its sum overflows (samples near the largest double), the mean of
    the samples scaled by a power of two, scaled back: finite, as every sample is."""
    with np.errstate(over="ignore"):
        mean = float(np.mean(buffer))
    if math.isfinite(mean):
        return mean
    scale = _downscale(buffer)
    total = sum(float(np.add.reduce(part * scale)) for part in _chunks(buffer))
    return total / buffer.size / scale


def _stddev(buffer: np.ndarray, mean: float) -> float:
    """Population standard deviation (ddof=0), as ``np.std`` computes it, chunk by chunk;
    on samples scaled by a power of two where the squares overflow."""
    stddev = _scaled_stddev(buffer, mean, 1.0)
    if math.isfinite(stddev):
        return stddev
    scale = _downscale(buffer)
    return _scaled_stddev(buffer, mean, scale) / scale


def _scaled_stddev(buffer: np.ndarray, mean: float, scale: float) -> float:
    total = 0.0
    scratch = np.empty(min(CHUNK, buffer.size))
    with np.errstate(over="ignore"):
        for part in _chunks(buffer):
            deviations = scratch[: part.size]
            if scale == 1.0:
                np.subtract(part, mean, out=deviations)
            else:
                np.multiply(part, scale, out=deviations)
                deviations -= mean * scale
            np.multiply(deviations, deviations, out=deviations)
            total += float(np.add.reduce(deviations))
    return float(np.sqrt(total / buffer.size))


def _downscale(buffer: np.ndarray) -> float:
    """A power of two that brings the largest sample below 1 (exact multiplications)."""
    return 2.0 ** -math.frexp(float(buffer.max()))[1]


def _chunks(buffer: np.ndarray) -> Iterator[np.ndarray]:
    for start in range(0, buffer.size, CHUNK):
        yield buffer[start : start + CHUNK]


def _integer_sum(buffer: np.ndarray) -> int | None:
    """The exact sum of whole-number samples (LoadGen's integer nanoseconds), or None if
    a sample is not a whole number or the sum could pass int64. Chunk by chunk, no copy."""
    if float(buffer.max()) * buffer.size >= _INT64_SAFE:
        return None
    total = 0
    for part in _chunks(buffer):
        whole = part.astype(np.int64)
        if not np.array_equal(whole, part):
            return None
        total += int(whole.sum())
    return total


def _loadgen_mean(integer_sum: int | None, count: int, mean: float) -> int:
    """LoadGen's mean: the integer sum divided with truncation, else the mean truncated."""
    return integer_sum // count if integer_sum is not None else int(mean)


def pick(stats: dict, method: str, keys: Iterable[str] | None = None) -> dict:
    """The public view of stored statistics for one method: count, min, max, mean (LoadGen's
    for ``loadgen``), stddev and the percentiles asked for (default: all stored)."""
    stored = stats["percentiles"][method]
    wanted = list(keys) if keys is not None else list(stored)
    return {
        "count": stats["count"],
        "min": stats["min"],
        "max": stats["max"],
        "mean": stats["loadgen_mean"] if method == "loadgen" else stats["mean"],
        "stddev": stats["stddev"],
        "percentiles": {k: stored[k] for k in wanted},
    }


def histogram(buffer: np.ndarray, bins: int, log: bool) -> tuple[list[float], list[int]]:
    """Bin edges and counts: ``bins`` equal bins from min to max, or with ``log`` equal
    on a logarithmic scale (LatencyError if a sample is 0, which has no logarithm)."""
    low, high = float(buffer.min()), float(buffer.max())
    if log:
        if low <= 0:
            raise LatencyError(
                "Logarithmic bins need samples > 0, and a sample here is 0; use log=false."
            )
        edges = np.geomspace(low, high, bins + 1) if high > low else np.array([low, high])
        edges[0], edges[-1] = low, high
        counts, edges = np.histogram(buffer, bins=edges)
    else:
        counts, edges = np.histogram(buffer, bins=bins)
    return [float(e) for e in edges], [int(c) for c in counts]
