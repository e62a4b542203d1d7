"""The report across repeat groups and profiles: statistics, noisy flags, default vs tuned."""

import re
from datetime import UTC, datetime, timedelta

import pytest

from bench.analysis.collect import add_labels, collect_runs, select_latest
from bench.analysis.decision import ci_text
from bench.analysis.tidy import groups_table, runs_table
from bench.report import build_report, markdown, speed
from bench.stats import compare_speed, describe, geometric_mean
from tests.report_fixtures import (
    make_group,
    markdown_rows,
    parity_verdict,
    section,
    skip_drawing,
    write_run,
)

START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
STEADY = {
    ("tensorflow", "default"): [1.20, 1.25, 1.22],
    ("tensorflow", "tuned"): [0.80, 0.82, 0.81],
    ("jax", "default"): [0.40, 0.55, 0.41],  # its 95% interval is far wider than ±5%: noisy
    ("jax", "tuned"): [0.30, 0.31, 0.30],
    ("torch", "default"): [1.10, 1.12, 1.11],
    ("torch", "tuned"): [1.00, 1.02, 0.99],
}
NOISY_RUN = ("torch", "tuned", 1)  # a run whose own epochs are noisy


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """(report text, run ids of the older groups that must not be used, the groups' results)."""
    results = tmp_path_factory.mktemp("results")
    old_ids = []
    for profile in ("default", "tuned"):
        for result in make_group(
            "tensorflow",
            profile=profile,
            steady_seconds=[9.0, 9.0, 9.0],
            created_utc=START - timedelta(days=1),
            group=f"old-group-{profile}",
        ):
            old_ids.append(write_run(results, result).stem)
    groups = {}
    for offset, ((backend, profile), steady) in enumerate(STEADY.items()):
        noisy = (NOISY_RUN[2],) if (backend, profile) == NOISY_RUN[:2] else ()
        groups[(backend, profile)] = make_group(
            backend,
            profile=profile,
            steady_seconds=steady,
            created_utc=START + timedelta(hours=offset),
            noisy_runs=noisy,
        )
        for result in groups[(backend, profile)]:
            write_run(results, result)
    with pytest.MonkeyPatch.context() as patch:
        skip_drawing(patch)
        return build_report(results, test_set=None).read_text(), old_ids, groups


@pytest.fixture(scope="module")
def report(built):
    return built[0]


def summary_rows(report):
    rows = markdown_rows(section(report, "Training"))
    return {(row["backend"], row["profile"]): row for row in rows}


def rows_by_profile(text):
    """Rows keyed by (backend, profile), from those columns or from a "group" label."""
    rows = {}
    for row in markdown_rows(text):
        if "group" in row:
            backend_device, _, profile = row["group"].partition(" · ")
            rows[(backend_device.split("/")[0], profile or "default")] = row
        else:
            rows[(row["backend"], row["profile"])] = row
    return rows


def test_the_latest_repeat_group_is_used_whole_and_the_older_one_not(built):
    report, old_ids, _ = built
    rows = summary_rows(report)
    assert set(rows) == set(STEADY)
    assert {row["runs"] for row in rows.values()} == {"3"}
    assert "9.000" not in report and "old-group" not in report
    assert old_ids and not [run_id for run_id in old_ids if run_id in report]


def fits(built, key) -> list[float]:
    """The fit seconds the group's result files hold, in repeat order."""
    return [result["timings"]["fit_seconds"] for result in built[2][key]]


def test_summary_statistics_are_those_of_describe(built, report):
    rows = summary_rows(report)
    roofline = rows_by_profile(section(report, "Roofline and host speed"))
    for key, steady in STEADY.items():
        # One statistic for times everywhere: the geometric mean (bench.analysis.tidy).
        stats = describe(steady)
        cell = rows[key]["steady epoch s (95% CI)"]
        assert cell.startswith(f"{geometric_mean(steady):.3f} ±{stats['resolution']:.0%}")
        fit = geometric_mean(fits(built, key))
        assert rows[key]["time to a trained model s"] == f"{fit:.2f}"
        achieved = describe([30.4 / seconds for seconds in steady])["median"]
        # One peak for the invocation: the highest probe rate (the fixtures' 150 at 2048²).
        percent = achieved / 150 * 100
        assert roofline[key]["achieved GFLOP/s"] == f"{achieved:.1f}"
        assert roofline[key]["% of peak"] == f"{percent:.0f}"
    assert rows[("tensorflow", "default")]["test accuracy"] == "0.9760 (0.9750 to 0.9770)"
    assert roofline[("tensorflow", "default")]["peak RSS MiB"] == "601"


def test_a_noisy_group_is_flagged_and_a_steady_one_is_not(report):
    rows = summary_rows(report)
    assert describe(STEADY[("jax", "default")])["noisy"]
    assert not describe(STEADY[("torch", "default")])["noisy"]
    # One definition of noisy: the flag in the table and the list under it name the same groups.
    flagged = {key for key, row in rows.items() if row["steady epoch s (95% CI)"].endswith("noisy")}
    assert flagged == {key for key, steady in STEADY.items() if describe(steady)["noisy"]}
    line = next(p for p in section(report, "Training").split("\n\n") if p.startswith("⚠ noisy"))
    listed = {(label.split("/")[0], label.split(" · ")[1]) for label in LABEL.findall(line)}
    assert listed == flagged
    assert f"{len(flagged)} of {len(STEADY)} groups" in line


LABEL = re.compile(r"\w+/cpu · \w+")


def test_a_run_with_noisy_epochs_is_listed_among_the_runs(report):
    backend, profile, index = NOISY_RUN
    runs = [
        row
        for row in markdown_rows(section(report, "Runs used"))
        if row["group"] == f"{backend}/cpu · {profile}"
    ]
    assert [row["epochs noisy"] == "yes" for row in runs] == [i == index for i in range(3)]


def gain_text(default: list[float], tuned: list[float]) -> str:
    found = compare_speed(default, tuned, paired=True)
    return f"{found['ratio']:.2f}× {ci_text(found['ci95'])} {found['outcome']}"


def test_tuned_profiles_show_the_gain_per_epoch_and_for_the_whole_job(built, report):
    rows = {row["backend"]: row for row in markdown_rows(section(report, "Tuned profiles"))}
    assert list(rows) == ["tensorflow/cpu", "jax/cpu", "torch/cpu"]
    for backend, row in rows.items():
        name = backend.removesuffix("/cpu")
        default, tuned = STEADY[(name, "default")], STEADY[(name, "tuned")]
        # Interleaved runs of one invocation: paired by repeat, ratio of geometric means.
        assert row["steady epoch gain"] == gain_text(default, tuned)
        job = gain_text(fits(built, (name, "default")), fits(built, (name, "tuned")))
        assert row["time to a trained model gain"] == job
    assert rows["tensorflow/cpu"]["steady epoch gain"].endswith("FASTER")  # 1.51x, tight
    assert rows["jax/cpu"]["steady epoch gain"].endswith("INCONCLUSIVE")  # noisy default


def test_the_chosen_candidate_is_marked_and_a_failed_one_shown(report):
    tuning = section(report, "Tuned profiles")
    searches = tuning.split("Search for ")[1:]
    assert [search.split(":")[0] for search in searches] == [
        f"{backend}/cpu · tuned" for backend in ("tensorflow", "jax", "torch")
    ]
    candidates = markdown_rows(searches[0])
    assert [r["chosen"] for r in candidates] == ["", "**✓**", ""]
    assert [r["steady epoch s"] for r in candidates[:2]] == ["0.300", "0.200"]
    assert candidates[2]["steady epoch s"] == "failed: run failed; see the log"


def test_prediction_table_gives_geometric_mean_latencies(built, report):
    rows = rows_by_profile(section(report, "Prediction"))
    assert set(rows) == set(STEADY)
    tf = rows[("tensorflow", "tuned")]
    runs = built[2][("tensorflow", "tuned")]
    p50 = geometric_mean([r["timings"]["predict_latency_p50_ms"] for r in runs])
    p99 = geometric_mean([r["timings"]["predict_latency_p99_ms"] for r in runs])
    assert (tf["p50 ms"], tf["p99 ms"]) == (f"{p50:.3f}", f"{p99:.3f}")
    assert tf["bulk samples/s"] == f"{geometric_mean([150000, 150001, 150002]):,.0f} @512"
    assert tf["path"] == "predict_on_batch"


def test_declared_settings_show_asked_and_resolved(report):
    rows = rows_by_profile(section(report, "Declared settings"))
    assert rows[("tensorflow", "tuned")]["jit_compile asked → resolved"] == "False → False"
    assert rows[("tensorflow", "default")]["jit_compile asked → resolved"] == "auto → False"
    assert rows[("jax", "default")]["environment"] == "CUDA_VISIBLE_DEVICES=''"
    assert rows[("jax", "default")]["framework reports"] == "intra_op_threads=2"
    assert rows[("jax", "default")]["threads"] == "default (1.40 cores busy in fit)"


def test_the_appendix_lists_each_run_of_the_group(report):
    appendix = markdown_rows(section(report, "Runs used"))
    jax_default = [row for row in appendix if row["group"] == "jax/cpu · default"]
    assert [row["seed"] for row in jax_default] == ["0", "1", "2"]
    expected = [f"{seconds:.3f}" for seconds in STEADY[("jax", "default")]]
    assert [row["steady epoch s"] for row in jax_default] == expected


def test_quick_groups_of_one_run_are_compared_without_a_spread(tmp_path):
    for profile, steady in (("default", [0.047]), ("tuned", [0.043])):
        for result in make_group(
            "jax", profile=profile, steady_seconds=steady, created_utc=START, quick=True
        ):
            write_run(tmp_path, result)
    main = add_labels(select_latest(collect_runs(tmp_path).runs))
    table = speed.training_table(main, groups_table(runs_table(main)))
    rows = {row["profile"]: row for row in markdown_rows(table)}
    assert rows["tuned"]["steady epoch s (95% CI)"] == "0.043"  # one run: no interval
    assert rows["tuned"]["backend"] == "jax (**quick**)"
    [row] = markdown_rows(markdown.profiles(main))
    assert row["backend"] == "jax/cpu (quick)"
    assert row["steady epoch gain"].startswith(f"{0.047 / 0.043:.2f}× INCONCLUSIVE")


def test_parity_section_shows_the_benchmark_verdict_and_the_latest_parity_run(tmp_path):
    import json

    for backend in ("tensorflow", "jax"):
        for result in make_group(
            backend,
            profile="default",
            steady_seconds=[1.0, 1.0, 1.0],
            created_utc=START,
            accuracy=0.975,
        ):
            write_run(tmp_path, result)
    parity_dir = tmp_path / "parity" / "test-machine-2c"
    parity_dir.mkdir(parents=True)
    (parity_dir / "20260301T000000Z-parity.json").write_text(json.dumps(parity_verdict(0.0)))
    (parity_dir / "20260302T000000Z-parity.json").write_text(json.dumps(parity_verdict(0.01)))
    (parity_dir / "20260303T000000Z-parity.json").write_text("{broken")
    warnings = []
    report = build_report(tmp_path, warn=warnings.append).read_text()
    parity = section(report, "Accuracy parity")
    # Both backends' runs have seeds 0, 1, 2 and accuracies 0.975, 0.976, 0.977: identical.
    assert "**These benchmark runs**" in parity and "paired by seed" in parity
    assert "default profile, paired by seed): **PASS**" in parity
    latest = report[report.index("### `nox -s parity` on `test-machine-2c`") :]
    assert latest.startswith("### `nox -s parity` on `test-machine-2c`: **FAIL**")
    assert "session `20260302T095000Z-aaaaaa`, 3 seeds" in latest
    assert "- Statistical: **FAIL**: paired mean accuracy differences" in latest
    assert "tensorflow vs torch: -0.0100 [-0.0100, -0.0100] FAIL" in latest
    assert (
        "- Lockstep (one whole free-running epoch; verdicts before the step check): **PASS**"
        in latest
    )
    assert "- Predict everywhere: **PASS**" in latest
    for name in ("parity_seeds", "parity_lockstep", "parity_confusion_difference"):
        assert (tmp_path / "figures" / f"{name}_test-machine-2c.png").read_bytes()[:4] == b"\x89PNG"
    assert any("20260303T000000Z-parity.json" in w for w in warnings)
