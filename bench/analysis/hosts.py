"""Host speed per invocation, from its neutral GEMM probes (bench.host.drift's robust rule)."""

import json
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.analysis.collect import get
from bench.host.drift import speed_changed, typical_rate
from bench.host.gemm_probe import host_gflops, speeds_differ


@dataclass
class Probes:
    """Every readable neutral-probe record, by (machine id, invocation id), in time order."""

    by_invocation: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)

    def records(self, machine: str, invocation: str | None) -> list[dict[str, Any]]:
        return self.by_invocation.get((machine, invocation), []) if invocation else []

    def rates(self, machine: str, invocation: str | None) -> list[float]:
        """The neutral 2048² rates measured in an invocation, in the order they were taken."""
        records = sorted(self.records(machine, invocation), key=lambda r: str(r.get("created_utc")))
        found = [host_gflops(record["probe"]) for record in records]
        return [rate for rate in found if rate]

    def host_gflops(self, machine: str, invocation: str | None) -> float | None:
        """The host's speed in an invocation: the median of its neutral 2048² rates.

        The median, so that one disturbed probe (another process starting) does not move it.
        """
        return typical_rate(self.rates(machine, invocation))

    def changed_during(self, machine: str, invocation: str | None) -> bool:
        """Whether the host's speed moved within the invocation: two probes in a row off it."""
        return speed_changed(self.rates(machine, invocation))


def load_probes(results_dir: Path, warn: Callable[[str], None]) -> Probes:
    """Read <results_dir>/probes/*/*.json; unreadable or incomplete ones are warned about."""
    probes = Probes()
    for path in sorted(Path(results_dir, "probes").glob("*/*.json")):
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
            key = (record["machine"]["id"], record["invocation"])
            rate = record["probe"]["square_gflops"]
            if not (isinstance(rate, int | float) and math.isfinite(rate) and rate > 0):
                raise ValueError(f"probe.square_gflops is {rate!r}")
            if not all(isinstance(part, str) for part in key):
                raise ValueError(f"machine id and invocation must be text, got {key!r}")
        except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
            warn(f"skipped probe record {path}: {exc!r}")
            continue
        probes.by_invocation.setdefault(key, []).append(record)
    return probes


def invocation_of(row: Any) -> str | None:
    """A group's invocation id, when all its runs share one (None otherwise)."""
    found = {get(result, "invocation.id") for result in row.group_runs}
    return found.pop() if len(found) == 1 and None not in found else None


def comparable(rows: Iterable[Any], probes: Probes) -> bool:
    """Whether these groups' hosts were measured alike: no two speeds more than 10% apart."""
    rates = [probes.host_gflops(row.machine, invocation_of(row)) for row in rows]
    return not speeds_differ([rate for rate in rates if rate])
