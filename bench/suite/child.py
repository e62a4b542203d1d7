"""Run one command in a fresh process: stream its output, bound its time, and name its fate.

The suite runs every benchmark run this way. A run that hangs is stopped after `timeout`
seconds; one killed from outside is told apart from one that failed or refused its input; and
an interruption of the suite (Ctrl-C, SIGTERM) stops the child too, which then writes nothing.
"""

import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from typing import IO

from bench import cli

DEFAULT_TIMEOUT = 1800  # seconds; a documented run takes well under a minute on 2 cores
STOP_GRACE = 10  # seconds a stopped child gets to unwind before it is killed

OK, ERROR, REFUSED, NO_BACKEND = "ok", "error", "refused", "no-backend"
TIMEOUT, KILLED, INTERRUPTED = "timeout", "killed", "interrupted"


@dataclass(frozen=True)
class Outcome:
    """What became of one child: a status, its exit code, how long it ran, and why."""

    status: str
    returncode: int | None
    seconds: float
    reason: str

    @property
    def ok(self) -> bool:
        return self.status == OK


def relay(stream: IO[str], last: list[str]) -> None:
    """Copy the child's stderr to ours line by line, keeping its last non-empty line."""
    for line in stream:
        sys.stderr.write(line)
        sys.stderr.flush()
        if line.strip():
            last[:] = [line.strip()]


def stop(process: subprocess.Popen) -> None:
    """SIGTERM the child, then SIGKILL it if it has not exited within STOP_GRACE seconds."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(STOP_GRACE)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def classify(returncode: int, last_line: str) -> tuple[str, str]:
    """The status and reason behind an exit code (negative: killed by that signal)."""
    if returncode == 0:
        return OK, ""
    if returncode < 0:
        name = signal.Signals(-returncode).name
        return KILLED, f"killed by {name} from outside (out of memory, or a user); no result"
    if returncode == cli.EXIT_NO_BACKEND:
        return NO_BACKEND, last_line or "the backend cannot be imported"
    if returncode == cli.EXIT_REFUSED:
        return REFUSED, last_line or "the run refused its input"
    if returncode in (cli.EXIT_SIGINT, cli.EXIT_SIGTERM):
        return INTERRUPTED, last_line or "interrupted; no result"
    return ERROR, last_line or f"exit code {returncode}"


def run_child(command: list[str], timeout: float | None = DEFAULT_TIMEOUT) -> Outcome:
    """Run `command` (stdout shared, stderr relayed) and say what became of it."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, errors="replace")
    last: list[str] = []
    reader = threading.Thread(target=relay, args=(process.stderr, last), daemon=True)
    reader.start()
    try:
        returncode = process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        stop(process)
        reader.join(STOP_GRACE)
        reason = f"no result after {timeout:g} s (--timeout); the run was stopped"
        return Outcome(TIMEOUT, process.returncode, time.perf_counter() - started, reason)
    except BaseException:  # the suite itself is interrupted: take the child down with it
        stop(process)
        raise
    reader.join(STOP_GRACE)
    status, reason = classify(returncode, last[0] if last else "")
    return Outcome(status, returncode, time.perf_counter() - started, reason)
