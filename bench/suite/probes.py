"""The neutral GEMM probe as the suite takes it: at the start, between rounds, at the end.

Three probes open the suite, so that the host speed the tuning cache is checked against is a
median, not one reading; a short one (the 2048² square alone, about half a second) follows
every round; a full one closes it. Each record goes to <results-dir>/probes/<machine>/.
"""

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.host import gemm_probe
from bench.host.machine import git_info, machine_info
from digitrec_core.results import write_result

START_PROBES = 3
SHORT_PROBE = {"repeats": 3, "seconds_per_repeat": 0.05, "model_shapes": False}


def probe_host(
    results_dir: Path,
    invocation: str,
    phase: str,
    backends: list[str],
    log: Callable[[str], None],
    *,
    short: bool = False,
) -> dict[str, Any]:
    """Run the neutral GEMM probe and keep its record; return the probe."""
    probe = gemm_probe.neutral_probe(**(SHORT_PROBE if short else {}))
    machine = machine_info()
    created = datetime.now(UTC)
    record = {
        "check": "neutral-gemm-probe",
        "invocation": invocation,
        "phase": phase,
        "suite_backend": "+".join(backends),
        "created_utc": created.isoformat(),
        "machine": machine,
        "git": git_info(),
        "probe": probe,
    }
    name = f"{created:%Y%m%dT%H%M%S%fZ}-{invocation}-{phase}.json"
    write_result(record, Path(results_dir, "probes", machine["id"], name))
    shapes = probe["model_shapes_gflops"]
    log(
        f"neutral GEMM probe ({phase}): {probe['square_gflops']:.0f} GFLOP/s at 2048²"
        + ("" if shapes is None else f", {shapes:.0f} at the model's shapes")
        + f", {probe['busy_cores']:.2f} cores busy"
    )
    return probe
