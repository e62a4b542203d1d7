"""`python -m bench.checks.micro`: where it keeps pytest-benchmark's JSON; it never overwrites."""

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest

from bench.checks import micro
from bench.host.machine import machine_info

REPO = Path(__file__).resolve().parents[1]
FAKE_JSON = {"machine_info": {}, "commit_info": {}, "benchmarks": [{"name": "test_train_step"}]}


class FixedClock(datetime):
    @classmethod
    def now(cls, tz=None):
        return datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.fixture
def fake_pytest(monkeypatch):
    """Stand in for the pytest subprocess: record its command, write FAKE_JSON where asked."""
    commands = []

    def run(command, check):
        commands.append(command)
        [target] = [arg.split("=", 1)[1] for arg in command if arg.startswith("--benchmark-json=")]
        Path(target).write_text(json.dumps(FAKE_JSON))
        return subprocess.CompletedProcess(command, 0)

    monkeypatch.setattr(micro, "subprocess", SimpleNamespace(run=run))
    monkeypatch.setattr(micro, "datetime", FixedClock)
    monkeypatch.setenv("KERAS_BACKEND", "jax")
    return commands


def test_json_is_kept_verbatim_and_never_overwritten(tmp_path, fake_pytest, capsys):
    assert micro.main(["--results-dir", str(tmp_path), "--benchmark-max-time=2"]) == 0
    path = tmp_path / "micro" / machine_info()["id"] / "20260102T030405Z-jax.json"
    assert json.loads(path.read_text()) == FAKE_JSON
    assert str(path) in capsys.readouterr().out
    assert fake_pytest[0][:3] == [sys.executable, "-m", "pytest"]
    assert fake_pytest[0][-1] == "--benchmark-max-time=2"

    path.write_text("kept")
    assert micro.main(["--results-dir", str(tmp_path)]) == 1
    assert path.read_text() == "kept"
    assert "never overwritten" in capsys.readouterr().err


def test_refuses_to_run_without_a_keras_backend(monkeypatch, capsys):
    monkeypatch.delenv("KERAS_BACKEND", raising=False)
    with pytest.raises(SystemExit) as exited:
        micro.main([])
    assert exited.value.code == 2
    assert "KERAS_BACKEND must be one of" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.backend
def test_micro_benchmarks_run_end_to_end(tmp_path):
    # The same benchmarks, with pytest-benchmark's own options cut to 3 rounds each.
    fast = ["--benchmark-max-time=0.000001", "--benchmark-min-rounds=3"]
    done = subprocess.run(
        [sys.executable, "-m", "bench.checks.micro", "--results-dir", str(tmp_path), *fast],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    [path] = (tmp_path / "micro").glob("*/*.json")
    backend = os.environ["KERAS_BACKEND"]
    assert path.parent.name == machine_info()["id"]
    assert path.name.endswith(f"Z-{backend}.json")
    assert str(path) in done.stdout
    data = json.loads(path.read_text())
    assert {"machine_info", "commit_info", "datetime", "version"} <= set(data)
    calls = sorted(
        (b["extra_info"]["kind"], b["extra_info"]["batch_size"]) for b in data["benchmarks"]
    )
    assert calls == [("predict_on_batch", 1), ("predict_on_batch", 512), ("train_on_batch", 512)]
    for entry in data["benchmarks"]:
        assert entry["extra_info"]["backend"] == backend
        assert entry["stats"]["rounds"] == len(entry["stats"]["data"]) == 3
