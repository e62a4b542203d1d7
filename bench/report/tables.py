"""The report's tables as pandas DataFrames of formatted cells, and their Markdown form."""

import math
from collections.abc import Iterable
from typing import Any

import pandas as pd

from bench.report.collect import get

MISSING = "n/a"


def fmt(value: Any, spec: str | None = None) -> str:
    """`value` formatted with `spec`, or "n/a" where it is missing (None or NaN)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING
    if isinstance(value, bool):
        return "yes" if value else "no"
    return format(value, spec) if spec else str(value)


def formatted(values: pd.Series, spec: str | None = None) -> pd.Series:
    """Each value of `values` through `fmt`."""
    return values.map(lambda value: fmt(value, spec))


def to_markdown(frame: pd.DataFrame, numeric: Iterable[str] = (), index: bool = False) -> str:
    """`frame` as a GitHub table, cells verbatim, the `numeric` columns right-aligned."""
    numeric = set(numeric)
    align = ["right" if column in numeric else "left" for column in frame.columns]
    if index:
        align.insert(0, "left")
    cells = frame.map(lambda cell: str(cell).replace("|", "\\|"))
    return cells.to_markdown(index=index, disable_numparse=True, colalign=align)


def run_details(result: dict[str, Any]) -> str:
    """Config, versions, machine, git state, data and epoch times of one run, as a table."""

    def value(dotted: str, spec: str | None = None) -> str:
        return fmt(get(result, dotted), spec)

    gpus = get(result, "machine.gpus") or []
    gpu_text = ", ".join(
        f"{gpu.get('name', '?')} ({fmt(gpu.get('memory_mib'), ',')} MiB)" for gpu in gpus
    )
    dirty = get(result, "git.dirty")
    commit = value("git.commit") + {True: " (dirty)", False: " (clean)"}.get(dirty, "")
    epochs = get(result, "timings.epoch_seconds") or []
    rows = {
        "run id": f"`{value('run_id')}`",
        "created (UTC)": value("created_utc"),
        "mode": "**quick** (data subset)" if get(result, "config.quick") else "full",
        "epochs": value("config.epochs"),
        "batch size": value("config.batch_size"),
        "seed": value("config.seed"),
        "train / test samples": f"{value('data.train_samples', ',')} / "
        f"{value('data.test_samples', ',')}",
        "python": value("versions.python"),
        "keras": value("versions.keras"),
        "framework": f"{value('versions.framework')} {value('versions.framework_version')}",
        "numpy": value("versions.numpy"),
        "device": value("device.description"),
        "CPU": value("machine.cpu_model"),
        "cores (logical / physical)": f"{value('machine.cpu_cores_logical')} / "
        f"{value('machine.cpu_cores_physical')}",
        "memory GiB": value("machine.memory_gib"),
        "GPUs": gpu_text or "none",
        "git commit": commit,
        "data source": value("data.source"),
        "checksums verified": value("data.checksums_verified"),
        "epoch times s": ", ".join(fmt(seconds, ".3f") for seconds in epochs) or MISSING,
    }
    table = pd.DataFrame({"setting": list(rows), "value": list(rows.values())})
    return to_markdown(table)


def per_class_table(per_class: list[dict[str, Any]]) -> str:
    """Precision, recall, F1 and support of each class, as a Markdown table."""
    frame = pd.DataFrame(per_class).reindex(
        columns=["class", "precision", "recall", "f1", "support"]
    )
    specs = {"class": None, "precision": ".4f", "recall": ".4f", "f1": ".4f", "support": ","}
    table = pd.DataFrame({name: formatted(frame[name], spec) for name, spec in specs.items()})
    return to_markdown(table, numeric=specs)


def skipped_table(skipped: list[tuple[str, str]]) -> str:
    """The files left out and why, as a Markdown table."""
    return to_markdown(pd.DataFrame(skipped, columns=["file", "reason"]))
