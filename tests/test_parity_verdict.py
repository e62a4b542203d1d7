"""`python -m bench.parity` end to end: records from a real parity run, then tampered with."""

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from bench.host.machine import machine_info
from bench.parity import runs, verdict
from digitrec_core.config import BACKENDS
from tests.conftest import write_mnist_dir
from tests.report_fixtures import clone_parity_runs

pytestmark = pytest.mark.backend  # needs a Keras backend installed

ACTIVE = os.environ["KERAS_BACKEND"]
SESSION = "test-session"


@pytest.fixture(scope="module")
def one_backend_runs(tmp_path_factory) -> Path:
    """A work dir holding a real parity run of the active backend on tiny data."""
    root = tmp_path_factory.mktemp("parity")
    data_dir = write_mnist_dir(root / "tiny-mnist")
    saved = dict(os.environ)
    try:
        code = runs.main(
            [
                "--backend", ACTIVE, "--trainer", ACTIVE, "--session", SESSION,
                "--seeds", "3", "--epochs", "2", "--lockstep-epochs", "2",
                "--data-dir", str(data_dir), "--no-verify-checksums",
                "--work-dir", str(root / "work"),
            ]
        )  # fmt: skip
    finally:
        os.environ.clear()
        os.environ.update(saved)
    assert code == 0
    return root / "work"


@pytest.fixture
def work_dir(one_backend_runs, tmp_path) -> Path:
    """Every backend's slot filled with a copy of the active backend's run."""
    work = tmp_path / "work"
    shutil.copytree(one_backend_runs, work)
    clone_parity_runs(work, ACTIVE)
    return work


def write_record(work: Path, backend: str, record: dict) -> None:
    (work / f"{backend}.json").write_text(json.dumps(record))


def edit(work: Path, backend: str, change) -> None:
    record = json.loads((work / f"{backend}.json").read_text())
    change(record)
    write_record(work, backend, record)


def run_verdict(work: Path, results: Path, *extra: str) -> int:
    return verdict.main(["--work-dir", str(work), "--results-dir", str(results), *extra])


def verdict_files(results: Path) -> list[Path]:
    return sorted((results / "parity" / machine_info()["id"]).glob("*-parity.json"))


def test_a_parity_run_writes_a_complete_record_and_no_temporary_files(one_backend_runs):
    record = json.loads((one_backend_runs / f"{ACTIVE}.json").read_text())
    assert record["session"] == SESSION and record["backend"] == ACTIVE
    assert record["config"] == {
        "seeds": 3,
        "epochs": 2,
        "lockstep_epochs": 2,
        "trainer": ACTIVE,
        "batch_size": 512,
        "workload": "mlp",
    }
    assert record["data"]["checksums_verified"] is False
    assert len(record["data"]["content_sha256"]) == 64
    assert set(record["git"]) == {"commit", "dirty"}
    assert [run["seed"] for run in record["statistical"]["runs"]] == [0, 1, 2]
    names = sorted(path.name for path in one_backend_runs.iterdir())
    assert not [name for name in names if name.startswith(".")], names
    with np.load(one_backend_runs / record["lockstep"]["outputs"]) as saved:
        assert saved["probabilities"].shape == (2, 200, 10)


def test_identical_backends_pass_and_the_verdict_is_written(work_dir, tmp_path, capsys):
    assert run_verdict(work_dir, tmp_path / "results", "--session", SESSION) == 0
    out = capsys.readouterr().out
    assert "statistical: PASS" in out and "teacher_forced: PASS" in out
    assert "predict_everywhere: PASS" in out and "parity PASS" in out
    [written] = verdict_files(tmp_path / "results")
    saved = json.loads(written.read_text())
    assert saved["outcome"] == "PASS" and saved["session"] == SESSION
    assert saved["statistical"]["seeds"] == [0, 1, 2]
    assert saved["config"]["seeds"] == 3 and saved["data"]["checksums_verified"] is False


def test_a_shifted_backend_fails_with_exit_1(work_dir, tmp_path, capsys):
    def shift(record):
        for run in record["statistical"]["runs"]:
            run["test_accuracy"] -= 0.02

    edit(work_dir, BACKENDS[1], shift)
    assert run_verdict(work_dir, tmp_path / "results") == 1
    out = capsys.readouterr().out
    assert "statistical: FAIL" in out and "parity FAIL" in out
    assert json.loads(verdict_files(tmp_path / "results")[0].read_text())["outcome"] == "FAIL"


def test_an_undecided_difference_is_inconclusive_with_exit_1(work_dir, tmp_path, capsys):
    def blur(record):
        for run, noise in zip(record["statistical"]["runs"], [0.004, -0.003, 0.001], strict=True):
            run["test_accuracy"] += noise

    edit(work_dir, BACKENDS[2], blur)
    assert run_verdict(work_dir, tmp_path / "results") == 1
    out = capsys.readouterr().out
    assert "statistical: INCONCLUSIVE" in out and "seeds would likely decide it" in out
    assert "parity INCONCLUSIVE" in out


def test_a_teacher_forced_step_difference_fails_at_its_step(work_dir, tmp_path, capsys):
    from bench.parity import teacher

    other = BACKENDS[1]
    path = work_dir / f"teacher-forced-{other}.npz"
    outputs = teacher.load_outputs(path)
    step = sorted(outputs)[1]
    outputs[step]["weights"][0] = outputs[step]["weights"][0] * (1 + 1e-2)
    teacher.save_outputs(path, outputs)
    assert run_verdict(work_dir, tmp_path / "results") == 1
    out = capsys.readouterr().out
    assert "teacher_forced: FAIL" in out and f"first difference at step {step}" in out


def test_a_free_running_drift_is_shown_but_not_judged(work_dir, tmp_path, capsys):
    other = BACKENDS[2]
    path = work_dir / f"free-running-{other}.npz"
    with np.load(path) as saved:
        steps, weights = saved["steps"], saved["weights"].copy()
    weights[1:] *= 1.01
    with path.open("wb") as file:
        np.savez(file, steps=steps, weights=weights)
    assert run_verdict(work_dir, tmp_path / "results") == 0
    out = capsys.readouterr().out
    assert f"leaves rounding at step {steps[1]}" in out and "parity PASS" in out


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda r: r.update(session="another"), "their session differs"),
        (lambda r: r["git"].update(commit="0" * 40), "their commit differs"),
        (lambda r: r["config"].update(epochs=3), "their configuration differs"),
        (lambda r: r["data"].update(content_sha256="f" * 64), "their data differs"),
        (lambda r: r["machine"].update(id="other-machine"), "their machine differs"),
        (lambda r: r.pop("session"), "lack their session"),
    ],
    ids=["session", "commit", "config", "data", "machine", "older-record"],
)
def test_records_that_do_not_belong_together_are_refused(
    work_dir, tmp_path, capsys, change, message
):
    edit(work_dir, BACKENDS[2], change)
    assert run_verdict(work_dir, tmp_path / "results") == 2
    err = capsys.readouterr().err
    assert message in err and "nox -s parity" in err
    assert verdict_files(tmp_path / "results") == []


def test_records_of_another_session_than_asked_are_refused(work_dir, tmp_path, capsys):
    assert run_verdict(work_dir, tmp_path / "results", "--session", "not-this-one") == 2
    assert f"come from session {SESSION}" in capsys.readouterr().err


def test_missing_or_unreadable_records_are_refused_by_name(work_dir, tmp_path, capsys):
    (work_dir / f"{BACKENDS[1]}.json").write_text("{ not json")
    assert run_verdict(work_dir, tmp_path / "results") == 2
    assert f"{BACKENDS[1]}.json is unreadable" in capsys.readouterr().err
    (work_dir / f"{BACKENDS[1]}.json").unlink()
    assert run_verdict(work_dir, tmp_path / "results") == 2
    assert f"no parity runs for {BACKENDS[1]}" in capsys.readouterr().err


def test_runs_options_are_accepted_by_the_verdict_as_nox_passes_them(work_dir, tmp_path):
    assert run_verdict(work_dir, tmp_path / "results", "--seeds", "7", "--epochs", "3") == 0
