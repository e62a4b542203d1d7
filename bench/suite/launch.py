"""One `python -m bench.run` in a fresh process, in its backend's Python, with a log of its own."""

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.suite.child import DEFAULT_TIMEOUT, ERROR, Outcome, run_child
from bench.suite.rounds import Cell, Launched
from digitrec_core.results import ResultFileError, read_result

REASON_CHARS = 160  # a failure's reason on the console; the failure record keeps all of it


@dataclass
class Launcher:
    """Runs cells: each backend and device's Python, the options every run shares, the logs."""

    pythons: dict[tuple[str, str], str]
    shared_options: list[str]
    log_dir: Path
    timeout: float | None = DEFAULT_TIMEOUT
    echo: bool = False
    logs: dict[tuple[str, int], Path] = field(default_factory=dict)  # (cell, round) -> its log

    def command(self, cell: Cell, options: list[str]) -> list[str]:
        """The bench.run command line for `cell` with `options`."""
        python = self.pythons[(cell.backend, cell.device)]
        return [
            python, "-m", "bench.run", *self.shared_options,
            "--backend", cell.backend, "--device", cell.device, *options,
        ]  # fmt: skip

    def launch(self, cell: Cell, index: int, options: list[str], log_name: str) -> Launched:
        """Run `cell` in round `index` with `options`; read the result file it reports."""
        log_path = self.log_dir / log_name
        self.logs[(cell.name, index)] = log_path
        outcome = run_child(
            self.command(cell, options), self.timeout, log_path=log_path, echo=self.echo
        )
        if not outcome.ok:
            return Launched(outcome, None, failed_summary(outcome))
        try:
            if outcome.result_path is None:
                raise ResultFileError("it named no result file")
            result = read_result(outcome.result_path)
        except ResultFileError as exc:
            broken = Outcome(ERROR, outcome.returncode, outcome.seconds, f"its result: {exc}")
            return Launched(broken, None, failed_summary(broken))
        return Launched(outcome, result)


def failed_summary(outcome: Outcome) -> str:
    """ "FAILED (timeout: no result after 600 s ...)", cut to fit one console line."""
    reason = outcome.reason
    if len(reason) > REASON_CHARS:
        reason = reason[: REASON_CHARS - 1] + "…"
    return f"FAILED ({outcome.status}: {reason})"


def repeat_option(section: dict[str, Any]) -> list[str]:
    """bench.run's hidden --repeat option: the run's place in the invocation, as JSON."""
    return ["--repeat", json.dumps(section, separators=(",", ":"))]
