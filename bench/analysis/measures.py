"""One measurement across a group's runs: the values, their summary, the bulk batch size."""

from typing import Any

from bench.analysis.collect import get
from bench.stats import describe

THROUGHPUT = "timings.predict_throughput_samples_per_second"


def values(group_runs: list[dict[str, Any]], dotted: str) -> list[float]:
    """The numbers at `dotted` across a group's runs (missing ones left out).

    Runs come from `collect`, which skips any file holding a NaN or infinity.
    """
    found = [get(result, dotted) for result in group_runs]
    return [float(v) for v in found if isinstance(v, int | float) and not isinstance(v, bool)]


def stats_of(group_runs: list[dict[str, Any]], dotted: str) -> dict[str, Any] | None:
    """`describe` of the values at `dotted` across a group's runs; None if there are none."""
    found = values(group_runs, dotted)
    return describe(found) if found else None


def median_of(group_runs: list[dict[str, Any]], dotted: str) -> float | None:
    """The median across a group's runs of the value at `dotted`; None if there is none."""
    stats = stats_of(group_runs, dotted)
    return None if stats is None else stats["median"]


def bulk_batch(group_runs: list[dict[str, Any]]) -> str | None:
    """The largest predict batch size every run of the group measured (as the JSON key)."""
    return common_bulk_batch([group_runs])


def common_bulk_batch(groups: list[list[dict[str, Any]]]) -> str | None:
    """The largest predict batch size every run of every group measured (as the JSON key).

    One batch per machine and device, so every group's bulk rate is read at the same size.
    """
    sizes = [set((get(result, THROUGHPUT) or {}).keys()) for runs in groups for result in runs]
    common = set.intersection(*sizes) if sizes else set()
    numeric = [size for size in common if str(size).isdigit()]
    return max(numeric, key=int) if numeric else None
