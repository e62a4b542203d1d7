"""How long building the report takes from 50 result files (pytest-benchmark; no backend needed).

`nox -s reportbench` runs it. The goal (issue: under 10 s on a 2-core machine) is read from the
benchmark's output, never asserted: timings belong in benchmarks, not in tests.
"""

from datetime import UTC, datetime, timedelta

import pytest

from bench.report import build_report
from tests.report_fixtures import (
    GPU_MACHINE,
    INVOCATION,
    MACHINE,
    make_group,
    write_probe,
    write_run,
)

START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
RUNS_PER_GROUP = 5
GROUPS = [  # 10 groups of 5 runs: 50 result files over two machines
    (machine, backend, profile)
    for machine in (MACHINE, GPU_MACHINE)
    for backend, profile in (
        ("tensorflow", "default"),
        ("tensorflow", "tuned"),
        ("jax", "default"),
        ("jax", "tuned"),
        ("torch", "default"),
    )
]


@pytest.fixture(scope="module")
def fifty_results(tmp_path_factory):
    results = tmp_path_factory.mktemp("results")
    for hour, (machine, backend, profile) in enumerate(GROUPS):
        steady = [0.3 + 0.1 * hour + 0.01 * i for i in range(RUNS_PER_GROUP)]
        for result in make_group(
            backend,
            profile=profile,
            steady_seconds=steady,
            created_utc=START + timedelta(hours=hour),
            machine=machine,
            group=f"{machine['id']}-{backend}-{profile}",
        ):
            write_run(results, result)
    for machine in (MACHINE, GPU_MACHINE):
        write_probe(results, invocation=INVOCATION, square_gflops=200.0, machine=machine)
    return results


def test_build_report_from_fifty_result_files(benchmark, fifty_results):
    benchmark.extra_info["result_files"] = len(GROUPS) * RUNS_PER_GROUP
    out = benchmark.pedantic(
        build_report, args=(fifty_results,), kwargs={"warn": print}, rounds=3, iterations=1
    )
    assert out.read_text(encoding="utf-8").startswith("# digitrec benchmark report")
