"""A child's output: its log file, not the terminal (unless asked), and the result it names."""

import sys

from bench.suite import child
from bench.suite.console import Progress, duration_text

NOISY_RUN = (
    "import sys\n"
    "print('oneDNN custom operations are on', file=sys.stderr)\n"
    "print('Could not find cuda drivers on your machine', file=sys.stderr)\n"
    "print('epoch   1/10  loss 0.4  accuracy 0.88    0.512 s')\n"
    "print('result written to results/runs/m/r.json')\n"
)


def test_a_runs_noise_and_epoch_lines_reach_its_log_and_not_the_terminal(tmp_path, capfd):
    log = tmp_path / "logs" / "r01-jax-cpu-default.log"
    outcome = child.run_child([sys.executable, "-c", NOISY_RUN], timeout=60, log_path=log)
    terminal = capfd.readouterr()
    assert outcome.ok and outcome.result_path == "results/runs/m/r.json"
    assert "oneDNN" not in terminal.out + terminal.err
    assert "epoch" not in terminal.out + terminal.err
    text = log.read_text()
    assert "oneDNN custom operations" in text and "cuda drivers" in text and "epoch   1/10" in text


def test_verbose_shows_the_runs_output_as_well(tmp_path, capfd):
    log = tmp_path / "run.log"
    child.run_child([sys.executable, "-c", NOISY_RUN], timeout=60, log_path=log, echo=True)
    terminal = capfd.readouterr()
    assert "oneDNN" in terminal.err and "epoch   1/10" in terminal.out
    assert "oneDNN" in log.read_text()


def test_a_failed_childs_reason_is_its_last_error_line_even_with_a_log(tmp_path):
    script = (
        "import sys; print('noise', file=sys.stderr); "
        "print('error: bad data', file=sys.stderr); sys.exit(2)"
    )
    outcome = child.run_child([sys.executable, "-c", script], timeout=60, log_path=tmp_path / "l")
    assert (outcome.status, outcome.reason, outcome.result_path) == (
        child.REFUSED,
        "error: bad data",
        None,
    )


def test_progress_counts_runs_against_the_plan_and_estimates_the_time_left():
    now = [0.0]
    lines = []
    progress = Progress(4, print_line=lines.append, clock=lambda: now[0])
    for _ in range(2):
        progress.start()
        now[0] += 20
        progress.finished("jax · default", "round 1", "fit 5.0 s")
    assert lines == [
        "[1/4] jax · default · round 1 · fit 5.0 s · about 60 s left",
        "[2/4] jax · default · round 1 · fit 5.0 s · about 40 s left",
    ]
    progress.plan(2)  # another round joins the plan
    progress.start()
    now[0] += 20
    line = progress.finished("torch · tuned", "round 2", "")
    assert line == "[3/6] torch · tuned · round 2 · about 60 s left"
    assert duration_text(5) == "under 10 s" and duration_text(600) == "about 10 min"
