"""Run one command in a fresh process: keep its output, bound its time, and name its fate.

The suite runs every benchmark run this way. Its output (framework start-up noise, one line
per epoch) goes to a log file of its own, and to the terminal only when asked. A run that
hangs is stopped after `timeout` seconds; one killed from outside is told apart from one that
failed or refused its input; and an interruption of the suite (Ctrl-C, SIGTERM) stops the
child too, which then writes nothing.
"""

import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from bench import cli

DEFAULT_TIMEOUT = 1800  # seconds; a documented run takes well under a minute on 2 cores
STOP_GRACE = 10  # seconds a stopped child gets to unwind before it is killed

OK, ERROR, REFUSED, NO_BACKEND = "ok", "error", "refused", "no-backend"
TIMEOUT, KILLED, INTERRUPTED = "timeout", "killed", "interrupted"
# What bench.run prints last on stdout, before the path of the result it wrote.
RESULT_LINE = "result written to "


@dataclass(frozen=True)
class Outcome:
    """What became of one child: a status, its exit code, how long it ran, and why."""

    status: str
    returncode: int | None
    seconds: float
    reason: str
    result_path: str | None = None  # the result file the child said it wrote

    @property
    def ok(self) -> bool:
        return self.status == OK


class Output:
    """Where a child's lines go: its log file (if any), our terminal (if echoed), and notes."""

    def __init__(self, log_path: Path | None, echo: bool):
        self.log = None
        if log_path is not None:
            log_path.parent.mkdir(parents=True, exist_ok=True)
            self.log = log_path.open("w", encoding="utf-8", errors="replace")
        self.echo = echo or log_path is None
        self.lock = threading.Lock()
        self.last_error: list[str] = []
        self.result_path: str | None = None

    def relay(self, stream: IO[str], terminal: IO[str], is_stderr: bool) -> None:
        """Copy one of the child's streams line by line, noting what the suite reads from it."""
        for line in stream:
            with self.lock:
                if self.log is not None:
                    self.log.write(line)
                    self.log.flush()
                if self.echo:
                    terminal.write(line)
                    terminal.flush()
            text = line.strip()
            if is_stderr and text:
                self.last_error[:] = [text]
            elif text.startswith(RESULT_LINE):
                self.result_path = text.removeprefix(RESULT_LINE)

    def close(self) -> None:
        if self.log is not None:
            self.log.close()


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


def run_child(
    command: list[str],
    timeout: float | None = DEFAULT_TIMEOUT,
    *,
    log_path: Path | None = None,
    echo: bool = False,
) -> Outcome:
    """Run `command`, its output to `log_path` (and to our terminal if `echo`, or if no log).

    Says what became of it, and which result file it wrote (bench.run's last line).
    """
    started = time.perf_counter()
    output = Output(log_path, echo)
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, errors="replace"
    )
    readers = [
        threading.Thread(
            target=output.relay, args=(process.stdout, sys.stdout, False), daemon=True
        ),
        threading.Thread(target=output.relay, args=(process.stderr, sys.stderr, True), daemon=True),
    ]
    for reader in readers:
        reader.start()

    def finish() -> None:
        for reader in readers:
            reader.join(STOP_GRACE)
        output.close()

    try:
        returncode = process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        stop(process)
        finish()
        reason = f"no result after {timeout:g} s (--timeout); the run was stopped"
        return Outcome(TIMEOUT, process.returncode, time.perf_counter() - started, reason)
    except BaseException:  # the suite itself is interrupted: take the child down with it
        stop(process)
        finish()
        raise
    finish()
    last = output.last_error[0] if output.last_error else ""
    status, reason = classify(returncode, last)
    seconds = time.perf_counter() - started
    return Outcome(
        status, returncode, seconds, reason, output.result_path if status == OK else None
    )
