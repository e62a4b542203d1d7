"""Read the result files under a results folder and pick the runs the report compares."""

import numbers
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from bench.analysis.schedules import CHOSE
from digitrec_core.config import BACKENDS
from digitrec_core.results import ResultFileError, iter_result_paths, read_result

BACKEND_ORDER = BACKENDS  # the report lists backends in this order
SHORT_BACKEND = {"tensorflow": "tf"}
GROUP_KEYS = ["workload", "machine", "backend", "device", "quick", "profile"]

# Report column -> dotted path in a result.
COLUMNS = {
    "run_id": "run_id",
    "created_utc": "created_utc",
    "machine": "machine.id",
    "workload": "workload.name",
    "backend": "backend",
    "device": "device.used",
    "quick": "config.quick",
    "test_accuracy": "metrics.test_accuracy",
    "test_loss": "metrics.test_loss",
    "fit_seconds": "timings.fit_seconds",
    "first_epoch_seconds": "timings.first_epoch_seconds",
    "steady_epoch_seconds": "timings.steady_epoch_seconds",
    "predict_seconds": "timings.predict_seconds",
    "train_samples_per_second": "timings.train_samples_per_second",
    "test_samples": "data.test_samples",
    "framework_version": "versions.framework_version",
    "profile": "config.profile",
    "repeat_group": "repeat.group",
    "invocation": "invocation.id",
    "implementation": "implementation.kind",
    "variant": "implementation.variant",
}
REQUIRED_COLUMNS = [
    "run_id",
    "created_utc",
    "machine",
    "workload",
    "backend",
    "device",
    "quick",
    "test_accuracy",
    "test_loss",
]
# Identifiers the report prints and links by: digitrec writes them from this alphabet only, so
# anything else (markup, control characters) marks a damaged or hostile file, refused whole.
SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:+-]{0,199}")
ID_COLUMNS = ("run_id", "machine", "workload", "backend", "device")
OPTIONAL_ID_KEYS = (
    "config.profile",
    "repeat.group",
    "invocation.id",
    "implementation.kind",
    "implementation.variant",
)
NUMERIC_COLUMNS = [
    "test_accuracy",
    "test_loss",
    "fit_seconds",
    "first_epoch_seconds",
    "steady_epoch_seconds",
    "predict_seconds",
    "train_samples_per_second",
    "test_samples",
]


class NoResultsError(FileNotFoundError):
    """No readable result file under a results folder."""


@dataclass(frozen=True)
class Skipped:
    """A result file left out of the report, and why."""

    path: Path
    reason: str


@dataclass(frozen=True)
class Collection:
    """Every readable Keras run (one row each, the full result in column ``result``), the
    native references apart (kept out of every ranking and comparison), and the rest."""

    runs: pd.DataFrame
    skipped: list[Skipped]
    native: pd.DataFrame = field(default_factory=pd.DataFrame)


def split_native(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(Keras runs, native references): the one place the two are told apart."""
    native = frame["implementation"] == "native"
    return frame[~native].reset_index(drop=True), frame[native].reset_index(drop=True)


def lookup(result: dict[str, Any], dotted: str) -> Any:
    """The value at `dotted` ("metrics.test_accuracy") in `result`; KeyError if absent."""
    value: Any = result
    for key in dotted.split("."):
        if not isinstance(value, dict) or key not in value:
            raise KeyError(dotted)
        value = value[key]
    return value


def check_fields(result: dict[str, Any], path: Path) -> None:
    """Raise ResultFileError unless `result` has the fields the report cannot do without.

    A NaN or infinite number anywhere (which digitrec never writes) makes the file unusable.
    """
    for column in REQUIRED_COLUMNS:
        dotted = COLUMNS[column]
        try:
            value = lookup(result, dotted)
        except KeyError:
            raise ResultFileError(f"{path}: missing {dotted!r}; the file is incomplete") from None
        if column in ("test_accuracy", "test_loss"):
            valid = isinstance(value, numbers.Real) and not isinstance(value, bool)
        elif column == "quick":
            valid = isinstance(value, bool)
        elif column == "created_utc":
            valid = isinstance(value, str) and parse_utc(value) is not None
        else:
            valid = isinstance(value, str) and value != ""
        if not valid:
            raise ResultFileError(f"{path}: {dotted} has an unexpected value {value!r}")
    for dotted in [COLUMNS[column] for column in ID_COLUMNS] + list(OPTIONAL_ID_KEYS):
        value = get(result, dotted)
        if value is not None and not (isinstance(value, str) and SAFE_ID.fullmatch(value)):
            raise ResultFileError(
                f"{path}: {dotted} is {value!r}, which digitrec never writes: an id is letters, "
                "digits and . _ : + - only; the file is damaged or was edited, so rerun it"
            )


def parse_utc(text: str) -> datetime | None:
    """An ISO 8601 time as an aware UTC datetime (naive means UTC); None if unparseable."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def collect_runs(results_dir: str | os.PathLike) -> Collection:
    """Read every result file under `results_dir/runs`; unreadable ones become `Skipped`."""
    results, paths, skipped = [], [], []
    for path in iter_result_paths(results_dir):
        try:
            result = read_result(path, finite=True)
            check_fields(result, path)
        except ResultFileError as exc:
            reason = str(exc).removeprefix(f"{path}: ")
            skipped.append(Skipped(path, reason))
            continue
        results.append(result)
        paths.append(path)
    runs, native = split_native(runs_frame(results, paths))
    return Collection(runs=runs, skipped=skipped, native=native)


def read_runs(results_dir: str | os.PathLike, warn: Callable[[str], None], fix: str) -> Collection:
    """`collect_runs`, each unreadable file `warn`ed about; NoResultsError ending in `fix`.

    Raised when the folder does not exist or holds no readable result file.
    """
    results_dir = Path(results_dir)
    if not results_dir.is_dir():
        raise NoResultsError(f"results folder {results_dir} does not exist; {fix}")
    collection = collect_runs(results_dir)
    for skipped in collection.skipped:
        warn(f"skipped {skipped.path}: {skipped.reason}")
    if collection.runs.empty:
        count = len(collection.skipped)
        found = f" ({count} unreadable files skipped)" if count else ""
        raise NoResultsError(
            f"no readable benchmark results under {results_dir / 'runs'}{found}; {fix}"
        )
    return collection


def runs_frame(results: list[dict[str, Any]], paths: list[Path]) -> pd.DataFrame:
    """One row per result with the report's columns; missing optional values are NaN."""
    flat = pd.json_normalize(results) if results else pd.DataFrame()
    frame = flat.reindex(columns=list(COLUMNS.values()))
    frame.columns = list(COLUMNS)
    frame["created_utc"] = pd.to_datetime(
        [parse_utc(text) for text in frame["created_utc"]], utc=True
    )
    frame["quick"] = frame["quick"].astype(bool)
    # Older results have no profile or repeat group: each is then its own group of one.
    frame["profile"] = frame["profile"].fillna("default")
    frame["repeat_group"] = frame["repeat_group"].fillna(frame["run_id"])
    frame["implementation"] = frame["implementation"].fillna("keras")
    frame["invocation"] = (
        frame["invocation"].astype(object).where(frame["invocation"].notna(), None)
    )
    for column in NUMERIC_COLUMNS:
        frame[column] = pd.to_numeric(frame[column], errors="coerce")
    frame["path"] = paths
    frame["result"] = results
    return frame


def in_report_order(runs: pd.DataFrame) -> pd.DataFrame:
    """Sort by machine, full before quick, backend (tensorflow, jax, torch), then device."""
    rank = {name: index for index, name in enumerate(BACKEND_ORDER)}

    def key(column: pd.Series) -> pd.Series:
        if column.name == "backend":
            return column.map(lambda name: rank.get(name, len(rank)))
        return column

    ordered = runs.sort_values(
        ["machine", "quick", "backend", "profile", "device"], key=key, kind="stable"
    )
    return ordered.reset_index(drop=True)


def select_latest(
    runs: pd.DataFrame, schedules: dict[tuple[str, str], dict[str, Any]] | None = None
) -> pd.DataFrame:
    """Per machine, backend, device, mode and profile: the latest repeat group.

    One row per group, the group's latest run, with ``group_runs``: every result of the group.
    A tuned group older than its backend's latest invocation is left out where that
    invocation's schedule record says its search kept the defaults: tuned is the default
    profile there, and an older search's settings no longer stand for it.
    """
    runs = runs.sort_values("created_utc", kind="stable")
    latest_group = runs.groupby(GROUP_KEYS)["repeat_group"].transform("last")
    members = runs[runs["repeat_group"] == latest_group]
    chosen = members.groupby(GROUP_KEYS).tail(1).copy()
    # Repeat group ids are unique per suite run, but never trust them across machines.
    chosen["group_runs"] = [
        list(
            members.loc[
                (members["repeat_group"] == group) & (members["machine"] == machine), "result"
            ]
        )
        for group, machine in zip(chosen["repeat_group"], chosen["machine"], strict=True)
    ]
    # A repeat group id is unique per suite run, yet copies of results can share one across
    # machines: `group_key` names a group wherever the report tabulates groups.
    chosen["group_key"] = [
        f"{machine}|{workload}|{group}"
        for machine, workload, group in zip(
            chosen["machine"], chosen["workload"], chosen["repeat_group"], strict=True
        )
    ]
    return in_report_order(without_superseded(chosen, schedules or {}))


def without_superseded(
    chosen: pd.DataFrame, schedules: dict[tuple[str, str], dict[str, Any]]
) -> pd.DataFrame:
    """`chosen` without tuned groups whose backend's latest search kept the defaults."""
    backend_keys = [key for key in GROUP_KEYS if key != "profile"]
    ordered = chosen.sort_values("created_utc", kind="stable")
    newest = ordered.groupby(backend_keys)["invocation"].transform("last").reindex(chosen.index)

    def superseded(row: Any, latest: str | None) -> bool:
        if row.profile != "tuned" or latest is None or row.invocation == latest:
            return False
        search = (schedules.get((row.machine, latest)) or {}).get("searches") or {}
        found = search.get(f"{row.backend}/{row.device}")
        return isinstance(found, dict) and found.get("outcome") != CHOSE

    keep = [
        not superseded(row, latest) for row, latest in zip(chosen.itertuples(), newest, strict=True)
    ]
    return chosen[keep]


def split_quick(selected: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(main comparison, quick runs set aside): a quick run goes aside when it has a full twin."""
    keys = pd.MultiIndex.from_frame(selected[["machine", "backend", "device"]])
    quick = selected["quick"].to_numpy()
    aside = quick & keys.isin(keys[~quick])
    return selected[~aside].reset_index(drop=True), selected[aside].reset_index(drop=True)


def machine_aliases(machines: Any) -> dict[str, str]:
    """Short names for machine ids, "M1", "M2", ... in the order of the sorted ids."""
    return {machine: f"M{number}" for number, machine in enumerate(sorted(set(machines)), 1)}


def add_labels(runs: pd.DataFrame) -> pd.DataFrame:
    """Add ``alias`` (M1, M2, ...) and ``label``: backend/device, the profile, the machine's
    alias if there are several machines, and "(quick)".

    The profile is left out of a default group that has no tuned twin.
    """
    aliases = machine_aliases(runs["machine"])
    runs = runs.assign(alias=runs["machine"].map(aliases))
    several_machines = runs["machine"].nunique() > 1
    twin_keys = ["machine", "backend", "device", "quick"]
    several_profiles = runs.groupby(twin_keys)["profile"].transform("nunique") > 1
    labels = [
        f"{row.backend}/{row.device}"
        + (f" · {row.profile}" if row.profile != "default" or both else "")
        + (f" @ {row.alias}" if several_machines else "")
        + (" (quick)" if row.quick else "")
        for row, both in zip(runs.itertuples(), several_profiles, strict=True)
    ]
    return runs.assign(label=labels)


def short_labels(runs: pd.DataFrame) -> list[str]:
    """Short names ("tf", "jax"), with the device, then a machine number, only where needed."""
    machine_number = {name: number for number, name in enumerate(runs["machine"].unique(), 1)}
    labels = [SHORT_BACKEND.get(backend, backend) for backend in runs["backend"]]
    if len(set(labels)) < len(labels):
        labels = [f"{label}/{device}" for label, device in zip(labels, runs["device"], strict=True)]
    if len(set(labels)) < len(labels):
        numbers = runs["machine"].map(machine_number)
        labels = [f"{label}@m{number}" for label, number in zip(labels, numbers, strict=True)]
    return [
        f"{label} (quick)" if quick else label
        for label, quick in zip(labels, runs["quick"], strict=True)
    ]


def same_random_sample(runs: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(runs whose random test sample has the first complete sample's indices, the others)."""
    indices = [random_sample_indices(result) for result in runs["result"]]
    reference = next((found for found in indices if found is not None), None)
    keep = pd.Series([found is not None and found == reference for found in indices])
    keep.index = runs.index
    return runs[keep].reset_index(drop=True), runs[~keep].reset_index(drop=True)


def random_sample_indices(result: dict[str, Any]) -> list[int] | None:
    """The test indices of the run's random sample; None if the sample is missing or partial."""
    sample = get(result, "samples.random_test")
    if not isinstance(sample, dict) or "images" not in sample:
        return None
    fields = [sample.get(name) for name in ("indices", "labels", "predicted")]
    if not all(isinstance(values, list) for values in fields) or len({*map(len, fields)}) != 1:
        return None
    return fields[0]


def get(result: dict[str, Any], dotted: str, default: Any = None) -> Any:
    """The value at `dotted` in `result`, or `default` where there is none."""
    try:
        return lookup(result, dotted)
    except KeyError:
        return default
