"""What a person sees while the suite runs: one line per finished run, with the time left.

`[12/18] jax · tuned · round 2 · fit 5.1 s · about 3 min left`: how many runs are done of
those planned so far, which run it was and what it measured, and the time the planned runs
still need at the pace so far. The frameworks' own output goes to each run's log file.
"""

import time
from collections.abc import Callable

SEPARATOR = " · "


def print_now(line: str) -> None:
    """Print one line at once, also when the output goes to a pipe (nox, CI logs)."""
    print(line, flush=True)


def duration_text(seconds: float) -> str:
    """ "about 3 min", "about 40 s" or "under 10 s": a person's estimate, not a measurement."""
    if seconds < 10:
        return "under 10 s"
    if seconds < 90:
        return f"about {round(seconds, -1):.0f} s"
    return f"about {seconds / 60:.0f} min"


class Progress:
    """Counts runs against the plan and prints one line per finished run."""

    def __init__(
        self,
        planned: int = 0,
        *,
        print_line: Callable[[str], None] = print_now,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.planned = planned
        self.done = 0
        self.print_line = print_line
        self.clock = clock
        self.spent = 0.0
        self.started: float | None = None

    def plan(self, more: int) -> None:
        """`more` runs join the plan (the next round, beyond those planned so far)."""
        self.planned += more

    def start(self) -> None:
        """A run is starting: its time counts from here."""
        self.started = self.clock()

    def left_seconds(self) -> float | None:
        """The planned runs' remaining time at the mean pace so far (None before any run)."""
        if not self.done:
            return None
        return self.spent / self.done * max(0, self.planned - self.done)

    def finished(self, *parts: str) -> str:
        """Count one finished run and print its line; return it."""
        if self.started is not None:
            self.spent += self.clock() - self.started
            self.started = None
        self.done += 1
        self.planned = max(self.planned, self.done)
        left = self.left_seconds()
        if left is None:
            tail = []
        else:
            tail = [f"{duration_text(left)} left" if left else "last planned run"]
        line = f"[{self.done}/{self.planned}] " + SEPARATOR.join([*filter(None, parts), *tail])
        self.print_line(line)
        return line
