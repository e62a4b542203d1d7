"""Failing well: each way a run can fail, done for real where it can be, and what is left.

Real processes: a run sent SIGINT or SIGTERM mid-fit, a child killed with SIGKILL, a child that
hangs past its timeout, a backend whose framework cannot be imported (a shadowing module that
raises ImportError, as a broken CUDA library does), a results folder that cannot be written.
"""

import errno
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from bench import cli
from bench.report import build_report
from bench.run import __main__ as bench_run
from bench.suite import child
from digitrec_core.config import BACKENDS, FRAMEWORK_MODULE

pytestmark = pytest.mark.backend  # needs a Keras backend installed

BACKEND = os.environ["KERAS_BACKEND"]
REPO = Path(__file__).resolve().parents[1]


def restore_sigint() -> None:
    """A background process starts with SIGINT ignored; a user's terminal does not."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.fixture
def ctrl_c():
    """Python's own Ctrl-C handler for the test, as a terminal gives it: a process started in
    the background (a CI runner's, `cmd &`) inherits SIGINT ignored, and would never see it."""
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, before)


def bench_run_command(results: Path, data: Path, *extra: str, backend: str = BACKEND) -> list:
    return [
        sys.executable, "-m", "bench.run", "--backend", backend, "--data-dir", str(data),
        "--no-verify-checksums", "--results-dir", str(results), *extra,
    ]  # fmt: skip


def result_files(results: Path) -> list[Path]:
    return sorted(results.rglob("*.json")) if results.exists() else []


def broken_framework(tmp_path: Path, backend: str) -> dict[str, str]:
    """An environment in which `backend`'s framework fails to import, as with broken CUDA."""
    shadow = tmp_path / "broken"
    package = shadow / FRAMEWORK_MODULE[backend]
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(
        'raise ImportError("libcudart.so.12: cannot open shared object file")\n'
    )
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(shadow), str(REPO)])}


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--epochs", "0"], "epochs must be a positive integer, got 0"),
        (["--batch-size", "-1"], "batch_size must be a positive integer, got -1"),
        (["--train-samples", "99999999"], "--train-samples must be between 1 and 600"),
        (["--profile", "fast"], "invalid choice: 'fast'"),
    ],
)
def test_nonsense_options_are_refused_in_one_line(tmp_path, tiny_mnist_dir, options, message):
    results = tmp_path / "results"
    done = subprocess.run(
        bench_run_command(results, tiny_mnist_dir, *options),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == cli.EXIT_REFUSED
    assert message in done.stderr and "Traceback" not in done.stderr
    assert not result_files(results / "runs")


@pytest.mark.slow
@pytest.mark.parametrize(
    ("signum", "code", "said"),
    [
        (signal.SIGINT, cli.EXIT_SIGINT, "interrupted (Ctrl-C): no result written"),
        (signal.SIGTERM, cli.EXIT_SIGTERM, "terminated (SIGTERM): no result written"),
    ],
)
def test_a_signal_mid_fit_stops_the_run_in_one_line(tmp_path, tiny_mnist_dir, signum, code, said):
    results = tmp_path / "results"
    process = subprocess.Popen(
        bench_run_command(results, tiny_mnist_dir, "--epochs", "100000"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=restore_sigint,
    )
    for line in process.stdout:  # wait until fit is under way
        if line.startswith("epoch"):
            break
    process.send_signal(signum)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == code
    assert stderr.strip().splitlines()[-1] == said
    assert "Traceback" not in stderr
    assert not result_files(results / "runs")


def test_a_child_killed_with_sigkill_is_recorded_as_killed():
    command = [sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"]
    outcome = child.run_child(command, timeout=60)
    assert (outcome.status, outcome.returncode) == (child.KILLED, -signal.SIGKILL)
    assert "SIGKILL" in outcome.reason


def test_a_child_that_hangs_is_stopped_at_its_timeout(monkeypatch):
    monkeypatch.setattr(child, "STOP_GRACE", 2)
    # It ignores SIGTERM, so stopping it takes SIGKILL after the grace period.
    hang = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(120)"
    started = time.perf_counter()
    outcome = child.run_child([sys.executable, "-c", hang], timeout=1)
    assert outcome.status == child.TIMEOUT and "after 1 s" in outcome.reason
    assert outcome.returncode == -signal.SIGKILL
    assert time.perf_counter() - started < 30


def test_a_childs_last_error_line_is_its_reason():
    command = [
        sys.executable,
        "-c",
        "import sys; print('error: the data is bad', file=sys.stderr); sys.exit(2)",
    ]
    outcome = child.run_child(command, timeout=60)
    assert (outcome.status, outcome.reason) == (child.REFUSED, "error: the data is bad")


def test_a_backend_that_cannot_be_imported_refuses_with_the_fix(tmp_path, tiny_mnist_dir):
    results = tmp_path / "results"
    done = subprocess.run(
        bench_run_command(results, tiny_mnist_dir, "--quick"),
        capture_output=True,
        text=True,
        timeout=300,
        env=broken_framework(tmp_path, BACKEND),
        cwd=tmp_path,
    )
    assert done.returncode == cli.EXIT_NO_BACKEND
    [line] = done.stderr.strip().splitlines()
    assert "cannot import keras" in line and "libcudart" in line and "pip install" in line
    assert not result_files(results)


@pytest.mark.slow
def test_one_broken_backend_costs_only_itself_and_the_report_shows_it(tmp_path, tiny_mnist_dir):
    """`nox -s bench` with one backend broken: the others run their rounds, the report shows it."""
    results = tmp_path / "results"
    broken = next(backend for backend in BACKENDS if backend != BACKEND)
    done = subprocess.run(
        [sys.executable, "-m", "bench.suite", "--backends", f"{BACKEND},{broken}",
         "--python", sys.executable, "--min-rounds", "2", "--max-rounds", "2",
         "--profiles", "default", "--results-dir", str(results), "--invocation", "inv-broken",
         "--data-dir", str(tiny_mnist_dir), "--no-verify-checksums", "--train-samples", "600",
         "--epochs", "1"],
        capture_output=True,
        text=True,
        timeout=600,
        env=broken_framework(tmp_path, broken),
        cwd=REPO,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr[-2000:]
    [record] = [json.loads(p.read_text()) for p in results.glob("failures/*/*.json")]
    assert (record["backend"], record["status"]) == (broken, child.NO_BACKEND)
    assert "libcudart" in record["reason"] and record["fix"]
    assert "libcudart" in (results / record["log"]).read_text()  # the record names its log
    assert len(list(results.glob(f"logs/*/*/r*-{broken}-*.log"))) == 1  # never tried again
    assert len(result_files(results / "runs")) == 2  # the working backend ran both rounds

    report = build_report(results, warn=lambda _: None, test_set=None).read_text()
    failed_section = report.split("## Failed runs")[1].split("\n## ")[0]
    assert f"| {broken} " in failed_section and "**no-backend**" in failed_section
    # These quick runs get no verdict (quick runs are not compared); test_report_verdict
    # checks that a failed backend is named in a machine's verdict.
    assert f"{BACKEND}/cpu (quick)" in report


def test_a_results_folder_that_cannot_be_written_is_refused_before_training(
    tmp_path, tiny_mnist_dir
):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    done = subprocess.run(
        bench_run_command(blocker / "results", tiny_mnist_dir, "--quick"),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == cli.EXIT_REFUSED
    [line] = done.stderr.strip().splitlines()
    assert line.startswith(f"error: cannot write result files to {blocker / 'results' / 'runs'}")
    assert "epoch" not in done.stdout  # refused before any training
    # (A folder without write permission fails the same probe; as root, as on CI, chmod
    # cannot make one, so a file standing where the folder should be stands in for it.)


def test_a_full_disk_at_write_time_is_one_line_and_writes_nothing(monkeypatch, tmp_path, capsys):
    import bench.run.workflow
    import digitrec_core.results

    def full_disk(result, path):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(bench_run, "prepare_environment", lambda config: None)
    monkeypatch.setattr(
        bench.run.workflow,
        "run_benchmark",
        lambda config, **_: {"machine": {"id": "m"}, "run_id": "r"},
    )
    monkeypatch.setattr(digitrec_core.results, "write_result", full_disk)
    args = bench_run.parse_args(["--backend", BACKEND, "--results-dir", str(tmp_path)])
    assert bench_run.run(args) == cli.EXIT_ERROR
    [line] = capsys.readouterr().err.strip().splitlines()
    assert "No space left on device" in line and "nothing was written" in line
    assert not result_files(tmp_path / "runs")


def test_an_unexpected_error_is_one_line_unless_debug(capsys):
    def broken() -> int:
        raise RuntimeError("something nobody expected")

    assert cli.run_guarded(broken, debug=False, interrupted="-") == cli.EXIT_ERROR
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line == (
        "error: RuntimeError: something nobody expected (rerun with --debug for the traceback)"
    )
    with pytest.raises(RuntimeError, match="something nobody expected"):
        cli.run_guarded(broken, debug=True, interrupted="-")


def test_result_files_keep_no_absolute_folders(monkeypatch, tmp_path):
    from bench.run.record import PROJECT_ROOT, portable_path, portable_source

    data = tmp_path / "mnist"
    monkeypatch.setenv("DIGITREC_DATA_DIR", str(data))
    assert portable_source(f"idx:{data}") == "idx:$DIGITREC_DATA_DIR"
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("DIGITREC_DATA_DIR")
    assert portable_path(str(data / "mnist.npz")) == "~/mnist/mnist.npz"
    monkeypatch.setenv("HOME", str(tmp_path / "elsewhere"))
    assert PROJECT_ROOT == REPO  # paths inside the checkout are written relative to it
    inside = PROJECT_ROOT / "data" / "mnist"
    assert portable_path(str(inside)) == "data/mnist"
    assert not portable_path(str(data)).startswith("/")
    assert portable_source("keras.datasets.mnist") == "keras.datasets.mnist"
    assert portable_path(None) is None


def test_an_interrupted_suite_takes_its_child_down_with_it(tmp_path, ctrl_c):
    pid_file = tmp_path / "child.pid"
    hang = f"import os, time; open({str(pid_file)!r}, 'w').write(str(os.getpid())); time.sleep(120)"

    def interrupt_when_the_child_runs() -> None:
        for _ in range(600):
            if pid_file.exists() and pid_file.read_text():
                break
            time.sleep(0.05)
        os.kill(os.getpid(), signal.SIGINT)  # as Ctrl-C reaches the suite

    threading.Thread(target=interrupt_when_the_child_runs, daemon=True).start()
    with pytest.raises(KeyboardInterrupt):
        child.run_child([sys.executable, "-c", hang], timeout=60)
    with pytest.raises(ProcessLookupError):
        os.kill(int(pid_file.read_text()), 0)  # stopped and reaped


def test_a_run_with_a_framework_exits_at_once_on_a_signal_without_unwinding():
    """TensorFlow can segfault when a signal handler raises inside its C++: never unwind there."""
    script = (
        "import os, signal, time\n"
        "from bench import cli\n"
        "def body():\n"
        "    try:\n"
        "        os.kill(os.getpid(), signal.SIGTERM)\n"
        "        time.sleep(60)\n"
        "    finally:\n"
        "        print('unwound', flush=True)\n"
        "    return 0\n"
        "raise SystemExit(cli.run_guarded(body, debug=False, interrupted='nothing kept',"
        " exit_at_once=True))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=REPO
    )
    assert done.returncode == cli.EXIT_SIGTERM
    assert done.stderr.strip() == "terminated (SIGTERM): nothing kept"
    assert "unwound" not in done.stdout


def test_a_signal_during_a_write_waits_until_the_whole_file_is_there(tmp_path, ctrl_c):
    from digitrec_core.results import write_atomically

    target = tmp_path / "result.json"

    def write_with_ctrl_c_halfway(tmp: Path) -> None:
        tmp.write_text('{"half": ')
        os.kill(os.getpid(), signal.SIGINT)
        with tmp.open("a") as rest:
            rest.write("1}")

    with pytest.raises(KeyboardInterrupt):  # delivered, but only once the file is in place
        write_atomically(target, write_with_ctrl_c_halfway)
    assert json.loads(target.read_text()) == {"half": 1}
    assert [path.name for path in tmp_path.iterdir()] == ["result.json"]  # no temporary left
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # restored
