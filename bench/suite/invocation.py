"""One invocation of the suite: probes, the tuned settings, the rounds, and their records."""

import contextlib
import json
import tempfile
import time
import uuid
from argparse import Namespace
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.backends.native import NATIVE_WORKLOADS, VARIANTS
from bench.backends.search_space import SEARCH_SPACE, lower_precisions
from bench.host.gemm_probe import host_gflops
from bench.host.machine import machine_info
from bench.suite import search_cache, tuning
from bench.suite.child import NO_BACKEND, Outcome
from bench.suite.console import Progress
from bench.suite.failures import write_failure
from bench.suite.launch import Launcher, repeat_option
from bench.suite.margins import open_margins
from bench.suite.probes import START_PROBES, probe_host
from bench.suite.pythons import missing_python, python_for
from bench.suite.rounds import Cell, Design, Launched, Rounds, run_rounds
from bench.suite.schedule import (
    build_schedule,
    cell_entry,
    relative_to,
    schedule_path,
    write_schedule,
)
from bench.suite.search import tuned_settings
from digitrec_core.config import LOWER_PRECISION_PROFILES


@dataclass
class Suite:
    """One invocation: its options, what it has done so far, and the records it keeps."""

    args: Namespace
    passthrough: list[str]
    failures: int = 0
    start_rates: list[float] = field(default_factory=list)
    searches: dict[str, Any] = field(default_factory=dict)
    cells: list[dict[str, Any]] = field(default_factory=list)
    rounds: Rounds | None = None
    phase_seconds: dict[str, float] = field(default_factory=dict)
    clock = staticmethod(time.monotonic)  # the rounds' clock (tests simulate one)

    def __post_init__(self) -> None:
        args = self.args
        self.results_dir = Path(args.results_dir)
        self.machine = machine_info()
        self.design = Design(
            args.min_rounds, args.max_rounds, args.budget * 60 if args.budget else None
        )
        self.started = self.clock()
        self.started_utc = datetime.now(UTC)
        self.log_dir = self.results_dir / "logs" / self.machine["id"] / args.invocation
        self.run_options = [
            *self.passthrough,
            "--results-dir", str(self.results_dir),
            "--invocation", args.invocation,
        ]  # fmt: skip
        self.pythons = {
            (backend, device): python_for(backend, device, args.python, args.venvs)
            for backend in args.backends
            for device in args.devices
        }
        self.launcher = Launcher(
            self.pythons, self.run_options, self.log_dir, args.timeout, args.verbose
        )
        self.record_path = schedule_path(self.results_dir, self.machine["id"], args.invocation)
        self.probed: set[str] = set()

    @contextlib.contextmanager
    def phase(self, name: str):
        """Time one phase of the suite, for the schedule record."""
        started = self.clock()
        try:
            yield
        finally:
            self.phase_seconds[name] = self.clock() - started

    def log(self, line: str) -> None:
        print(f"[suite] {line}", flush=True)

    # --- failures and records ---------------------------------------------------------------

    def record_failure(self, cell: Cell, index: int | None, outcome: Outcome, profile: str):
        self.failures += 1
        log = self.launcher.logs.get((cell.name, index))
        path = write_failure(
            self.results_dir,
            outcome,
            backend=cell.backend,
            device=cell.device,
            profile=profile,
            invocation=self.args.invocation,
            repeat_index=index,
            workload=search_cache.workload_of(self.passthrough),
            log=None if log is None else relative_to(log, self.results_dir),
        )
        self.log(f"{cell.name}: failure recorded in {path}")

    def write_record(self, status: str) -> None:
        record = build_schedule(
            invocation=self.args.invocation,
            design=self.design,
            order_seed=self.args.order_seed,
            seed=self.args.seed,
            cells=self.cells,
            rounds=self.rounds,
            start_rates=self.start_rates,
            searches=self.searches,
            started_utc=self.started_utc,
            wall_seconds=self.clock() - self.started,
            status=status,
            failures=self.failures,
            phase_seconds=self.phase_seconds,
        )
        write_schedule(self.record_path, record)

    # --- the suite --------------------------------------------------------------------------

    def run(self) -> int:
        """Probes, searches, rounds, probe; the schedule record kept throughout."""
        args = self.args
        self.log(
            f"invocation {args.invocation}: {', '.join(args.backends)} on "
            f"{', '.join(args.devices)}; rounds {args.min_rounds} to {args.max_rounds}, "
            f"budget {f'{args.budget:g} min' if args.budget else 'none'}, order seed "
            f"{args.order_seed}; each run's output goes to {self.log_dir}"
        )
        status = "interrupted"
        try:
            places = self.usable_places()
            with self.phase("start probes"):
                for number in range(START_PROBES):
                    probe = probe_host(
                        self.results_dir, args.invocation, f"start-{number + 1}", args.backends,
                        self.log, short=number > 0,
                    )  # fmt: skip
                    self.start_rates.append(host_gflops(probe))
            with tempfile.TemporaryDirectory(prefix="digitrec-suite-") as tmp:
                with self.phase("tuning search"):
                    settings = tuned_settings(self, places, Path(tmp))
                cells = self.bench_cells(places, settings, Path(tmp))
                with self.phase("rounds"):
                    self.rounds = self.run_bench_rounds(cells)
            with self.phase("end probe"):
                probe_host(self.results_dir, args.invocation, "end", args.backends, self.log)
            status = "finished"
        finally:
            self.write_record(status)
        if self.failures:
            self.log(f"{self.failures} run(s) failed; the others' results are kept")
        return 1 if self.failures else 0

    def usable_places(self) -> list[tuple[str, str]]:
        """(backend, device) pairs whose Python exists; a failure record for each other."""
        places = []
        for (backend, device), python in self.pythons.items():
            why = missing_python(python, backend, device)
            if why is None:
                places.append((backend, device))
                continue
            outcome = Outcome(NO_BACKEND, None, 0.0, why)
            self.record_failure(Cell(backend, device, "default"), None, outcome, "default")
            self.log(f"error: {why}")
        return places

    def bench_cells(
        self, places: list[tuple[str, str]], settings: dict[tuple, dict[str, Any]], tmp: Path
    ) -> list[Cell]:
        """Every (backend, device, profile) the rounds run, with the options of its profile."""
        cells = []
        for backend, device in places:
            for profile in self.args.profiles:
                options: tuple[str, ...] = ()
                if profile in LOWER_PRECISION_PROFILES:
                    precision = LOWER_PRECISION_PROFILES[profile]
                    if not self.runs_lower_precision(backend, device, precision, settings):
                        continue
                    options = ("--precision", precision)
                if profile == "tuned":
                    record = settings.get((backend, device))
                    if record is None:
                        continue
                    kept_defaults = record["chosen"] == SEARCH_SPACE[backend][0]
                    if kept_defaults and "default" in self.args.profiles:
                        continue  # its runs would be the default profile's again
                    path = tmp / f"tuning-{backend}-{device}.json"
                    path.write_text(json.dumps(record))
                    options = (
                        *tuning.settings_args(record["chosen"]),
                        "--tuning-record",
                        str(path),
                    )
                cells.append(self.new_cell(Cell(backend, device, profile, options)))
            cells += [self.new_cell(cell) for cell in self.native_cells(backend, device)]
        return cells

    def new_cell(self, cell: Cell) -> Cell:
        """`cell` labelled, with a new repeat group in the schedule record."""
        backend, device = cell.backend, cell.device
        label = f"{backend}{'' if device == 'cpu' else '/' + device} · {cell.kind}"
        cell = replace(cell, label=label)
        group = f"{backend}-{device}-{cell.kind}-{uuid.uuid4().hex[:8]}"
        self.cells.append(cell_entry(cell, group, self.pythons[(backend, device)]))
        return cell

    def native_cells(self, backend: str, device: str) -> list[Cell]:
        """With --native, the native references of `backend` (torch: eager and compiled),
        run beside the Keras cells in the same rounds (where the workload has one)."""
        if not self.args.native:
            return []
        workload = search_cache.workload_of(self.passthrough)
        if workload not in NATIVE_WORKLOADS:
            if backend == self.args.backends[0] and device == self.args.devices[0]:
                self.log(f"--native: digitrec has no native reference for {workload}; none run")
            return []
        return [
            Cell(backend, device, "default", ("--implementation", name), implementation=name)
            for name in VARIANTS[backend]
        ]

    def runs_lower_precision(
        self, backend: str, device: str, precision: str, settings: dict[tuple, dict[str, Any]]
    ) -> bool:
        """Whether the rounds run `precision` for this backend: the hardware has it, and the
        search proposed it (or --lower-precision all asks for it wherever the hardware has it)."""
        if precision not in lower_precisions(device, self.machine["fingerprint"]["isa"]):
            return False
        if self.args.lower_precision == "all":
            return True
        return precision in (settings.get((backend, device)) or {}).get("proposed", [])

    def run_bench_rounds(self, cells: list[Cell]) -> Rounds:
        """The rounds of the benchmark itself, looked at with the verdict's own margins."""
        groups = {entry["name"]: entry["group"] for entry in self.cells}
        design = self.design

        def launch(cell: Cell, index: int, position: int) -> Launched:
            repeat = {
                "group": groups[cell.name],
                "index": index,
                "count": design.max_rounds,
                "interleaved": True,
                "scheduler": "rounds",
                "position": position,
                "order_seed": self.args.order_seed,
                "min_rounds": design.min_rounds,
                "max_rounds": design.max_rounds,
                "confidence": design.confidence,
            }
            probe = "full" if cell.name not in self.probed else "none"
            options = [
                "--profile", cell.profile,
                "--seed", str(self.args.seed + index),
                *repeat_option(repeat), *cell.options,
                "--framework-probe", probe,
            ]  # fmt: skip
            name = f"r{index + 1:02d}-{cell.backend}-{cell.device}-{cell.kind}.log"
            launched = self.launcher.launch(cell, index, options, name)
            if launched.outcome.ok:
                self.probed.add(cell.name)
                fit = launched.result["timings"]["fit_seconds"]
                return Launched(launched.outcome, launched.result, f"fit {fit:.1f} s")
            return launched

        def after_round(rounds: Rounds) -> None:
            self.rounds = rounds
            self.write_record("running")

        return self.in_rounds(cells, design, launch, open_margins, "", on_round=after_round)

    def in_rounds(
        self,
        cells: list[Cell],
        design: Design,
        launch,
        open_items,
        phase: str,
        profile: str | None = None,
        **options,
    ) -> Rounds:
        """`run_rounds` with this suite's order seed, clock, console, probes and failures.

        `phase` prefixes the probes' names ("search-"); failures are recorded under `profile`,
        else the cell's own.
        """
        return run_rounds(
            cells,
            design,
            launch,
            open_items,
            order_seed=self.args.order_seed,
            progress=Progress(clock=self.clock),
            log=self.log,
            probe=lambda index: self.short_probe(f"{phase}after-round-{index + 1}"),
            start_rates=self.start_rates,
            clock=self.clock,
            on_failure=lambda cell, index, outcome: self.record_failure(
                cell, index, outcome, profile or cell.kind
            ),
            **options,
        )

    def short_probe(self, phase: str) -> float | None:
        probe = probe_host(
            self.results_dir, self.args.invocation, phase, self.args.backends, self.log, short=True
        )
        return host_gflops(probe)
