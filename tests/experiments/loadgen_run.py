"""A real MLPerf LoadGen run against a small Python system under test, for the tests.

``python loadgen_run.py OUTDIR SAMPLES``: SingleStream, performance mode, tracing on;
the SUT answers each sample after a random 0.1 to 1 ms. Run in its own process: LoadGen
is a C++ library with process-wide state and threads of its own.
"""

import random
import sys
import time

import mlperf_loadgen as lg


def run(outdir: str, samples: int) -> None:
    settings = lg.TestSettings()
    settings.scenario = lg.TestScenario.SingleStream
    settings.mode = lg.TestMode.PerformanceOnly
    settings.single_stream_expected_latency_ns = 500_000
    settings.min_query_count = samples
    settings.max_query_count = samples
    settings.min_duration_ms = 0

    output = lg.LogOutputSettings()
    output.outdir = outdir
    output.copy_summary_to_stdout = False
    log_settings = lg.LogSettings()
    log_settings.log_output = output
    log_settings.enable_trace = True

    def issue_queries(query_samples):
        for sample in query_samples:
            time.sleep(random.uniform(0.0001, 0.001))
            lg.QuerySamplesComplete([lg.QuerySampleResponse(sample.id, 0, 0)])

    sut = lg.ConstructSUT(issue_queries, lambda: None)
    qsl = lg.ConstructQSL(1024, 1024, lambda indices: None, lambda indices: None)
    lg.StartTestWithLogSettings(sut, qsl, settings, log_settings)
    lg.DestroyQSL(qsl)
    lg.DestroySUT(sut)


if __name__ == "__main__":
    run(sys.argv[1], int(sys.argv[2]))
