"""A Python client of the benchmark results service (EOSC Performance API), for notebooks:
results, aggregates and the catalogue as pandas DataFrames.

    >>> from perfclient import Client
    >>> perf = Client("https://perf.example.org/api/v1")
    >>> perf.results(benchmark_id=perf.benchmark_id("thechristophe/openbench-c-ray:latest"))
"""

from perfclient.client import Client, ResultFilters, __version__
from perfclient.errors import (
    ApiError,
    BatchRejected,
    ConnectionFailed,
    NotListed,
    PerfClientError,
)
from perfclient.transport import RetryPolicy

__all__ = [
    "ApiError",
    "BatchRejected",
    "Client",
    "ConnectionFailed",
    "NotListed",
    "PerfClientError",
    "ResultFilters",
    "RetryPolicy",
    "__version__",
]
