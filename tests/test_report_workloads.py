"""Workloads in the report and in compare: each its own verdict, never mixed with another's runs."""

from datetime import UTC, datetime

from bench.compare.__main__ import main as compare_main
from bench.report import build_report
from tests.report_fixtures import (
    MACHINE,
    make_group,
    markdown_rows,
    section,
    skip_drawing,
    write_run,
)

START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def write_workload(results, workload: str, jax: float, torch: float) -> None:
    for backend, median in (("jax", jax), ("torch", torch)):
        for result in make_group(
            backend,
            profile="default",
            steady_seconds=[median * (1 + i / 200) for i in range(5)],
            created_utc=START,
            group=f"{workload}-{backend}",
            workload=workload,
        ):
            write_run(results, result)


def test_each_workload_gets_its_own_verdict_from_its_own_runs(tmp_path, monkeypatch):
    skip_drawing(monkeypatch)
    results = tmp_path / "results"
    write_workload(results, "mlp", jax=1.0, torch=2.0)  # JAX clearly faster on the MLP
    write_workload(results, "convnet", jax=9.0, torch=3.0)  # torch clearly faster on the convnet
    report = build_report(results, warn=lambda _: None, test_set=None).read_text()

    mlp_part, convnet_part = report.split("## Workload: convnet")
    assert "for the workloads `mlp`, `convnet`" in mlp_part
    assert "### mlp on M1 (CPU)" in mlp_part and "### convnet on M1 (CPU)" in mlp_part
    assert "#### Verdict details: convnet" in convnet_part
    assert "no `nox -s parity -- --workload convnet` verdict for this machine yet" in convnet_part

    def steady_winner(workload: str) -> str:
        rows = markdown_rows(section(report, f"{workload} verdict on M1 (CPU)"))
        [row] = [r for r in rows if r["task"].startswith("steady") and "default" in r["profiles"]]
        return row["fastest"]

    assert "JAX" in steady_winner("mlp") and "torch" in steady_winner("convnet")
    # The MLP's training table holds only the MLP's runs.
    training = mlp_part.split("## Training", 1)[1].split("\n## ", 1)[0]
    assert "9.0" not in training and "1.0" in training


def test_compare_never_pairs_one_workload_with_another(tmp_path, capsys):
    baseline, current = tmp_path / "baseline", tmp_path / "current"
    write_workload(baseline, "mlp", jax=1.0, torch=2.0)
    write_workload(current, "convnet", jax=1.5, torch=3.0)  # slower, but another workload
    code = compare_main([str(baseline), "--results-dir", str(current), "--fail-on-regression"])
    out = capsys.readouterr().out
    assert code == 0 and "REGRESSION" not in out
    convnet_rows = [line for line in out.splitlines() if "| convnet · " in line]
    assert len(convnet_rows) == 2
    assert all("not compared: no baseline on this machine" in row for row in convnet_rows)
    # The control: the same slowdown within one workload is a regression.
    slower = tmp_path / "slower"
    write_workload(slower, "mlp", jax=1.5, torch=3.0)
    assert compare_main([str(baseline), "--results-dir", str(slower), "--fail-on-regression"]) == 1
    assert "REGRESSION" in capsys.readouterr().out


def test_a_failed_run_counts_against_its_own_workload_only(tmp_path, monkeypatch):
    from bench.suite.child import Outcome
    from bench.suite.failures import write_failure

    skip_drawing(monkeypatch)
    results = tmp_path / "results"
    write_workload(results, "mlp", jax=1.0, torch=2.0)
    write_workload(results, "convnet", jax=9.0, torch=3.0)
    # Later than every run above: only a later success of the same workload would clear it.
    monkeypatch.setattr("bench.suite.failures.machine_info", lambda: dict(MACHINE))
    write_failure(
        results,
        Outcome("timeout", -9, 1800.0, "no result after 1800 s (--timeout)"),
        backend="tensorflow",
        device="cpu",
        profile="default",
        invocation=None,
        workload="convnet",
    )
    report = build_report(results, warn=lambda _: None, test_set=None).read_text()
    mlp_part, convnet_part = report.split("## Workload: convnet")
    failed = mlp_part.split("## Failed runs", 1)[1].split("\n## ", 1)[0]
    assert "| convnet " in failed and "**timeout**" in failed  # listed once, with its workload
    mlp_verdict = mlp_part.split("## Verdict", 1)[1].split("\n## ", 1)[0]
    assert "tensorflow (default) failed here" not in mlp_verdict
    assert "tensorflow (default) failed here (timeout)" in convnet_part


def test_the_suite_records_the_workload_its_runs_were_given():
    from bench.suite.search_cache import workload_of

    assert workload_of(["--epochs", "3"]) == "mlp"
    assert workload_of(["--workload", "convnet", "--epochs", "3"]) == "convnet"
    assert workload_of(["--workload=my.models:Tiny"]) == "my.models:Tiny"
