"""Assemble the report's Markdown text from the selected runs and the figures made for them."""

import re
from collections.abc import Sequence
from datetime import datetime

import jinja2
import pandas as pd

from bench.analysis.collect import get
from bench.analysis.hosts import Probes
from bench.report import environment, speed, tables
from bench.report import profiles as profile_tables
from bench.report.gallery import (
    Figures,
    confusion_matrices,
    learning_curves,
    samples_section,
    the_data,
)
from bench.stats import MIN_SPEED_EFFECT

QUICK_NOTE = (
    "> **Quick runs** (`python -m bench.run --quick`, or a `--train-samples`/`--test-samples` "
    "subset) train and test on a small part of MNIST, usually for fewer epochs: their accuracy "
    "and timings are **not comparable** with full runs."
)


TEMPLATES = jinja2.Environment(
    loader=jinja2.PackageLoader("bench.report", "templates"),
    autoescape=False,  # Markdown, not HTML: strings from result files are neutralised by
    keep_trailing_newline=True,  # `neutralise`, and the HTML copy never passes raw HTML
    trim_blocks=True,
    undefined=jinja2.StrictUndefined,
)


def render(
    *,
    main: pd.DataFrame,
    aside: pd.DataFrame,
    groups: pd.DataFrame,
    runs_found: int,
    skipped: list[tuple[str, str]],
    figures: Figures,
    native_found: int = 0,
    runs_dir: str,
    other_skipped: list[str] = (),
    host_notes: list[str] = (),
    probes: Probes | None = None,
    banner: str = "",
    summary_section: str = "",
    verdict_section: str = "",
    native_section: str = "",
    failed_section: str = "",
    parity_section: str = "",
    environment_section: str = "",
    roofline_section: str = "",
    selfcheck_section: str = "",
    micro_section: str = "",
    workload_sections: Sequence[str] = (),
    workloads: Sequence[str] = ("mlp",),
    generated: datetime,
) -> str:
    """The whole report as Markdown: the banner and the summary first, the appendix after."""
    appendix_parts = [
        verdict_section,
        native_section,
        failed_section,
        training(main, aside, runs_found, len(skipped) + len(other_skipped), figures, groups),
        prediction(main, groups, figures),
        profiles(main, probes),
        parity_section,
        environment_section,
        declared_settings(main),
        roofline_section,
        *host_notes_section(host_notes),
        selfcheck_section,
        learning_curves(figures),
        confusion_matrices(main, figures),
        per_class(main, groups),
        samples_section(figures),
        the_data(figures),
        *workload_sections,
        micro_section,
        appendix(main, aside),
        skipped_files(skipped, other_skipped),
    ]
    text = TEMPLATES.get_template("report.md.j2").render(
        intro=intro(runs_dir, generated, runs_found, workloads, native_found),
        banner=banner,
        summary=summary_section,
        legend=machines_legend(pd.concat([main, aside])),
        appendix=[demote(part) for part in appendix_parts if part],
    )
    return neutralise(text)


def demote(section: str) -> str:
    """Every Markdown heading of `section` one level down (## → ###)."""
    return re.sub(r"^(#+) ", r"#\1 ", section, flags=re.M)


CODE_SPAN = re.compile(r"(`+)(.+?)\1", re.S)


def neutralise(text: str) -> str:
    """`text` with every "<" outside code spans written as an entity: no string from a result
    file (a CPU model, a version) can open an HTML tag, in the Markdown or in its HTML copy."""
    pieces, last = [], 0
    for match in CODE_SPAN.finditer(text):
        pieces.append(text[last : match.start()].replace("<", "&lt;"))
        pieces.append(match.group(0))
        last = match.end()
    pieces.append(text[last:].replace("<", "&lt;"))
    return "".join(pieces)


def machines_legend(runs: pd.DataFrame) -> str:
    """Each machine's alias, its fingerprint id and its CPU."""
    rows = []
    for (alias, machine), found in runs.groupby(["alias", "machine"], sort=True):
        result = found["result"].iloc[-1]
        rows.append({
            "alias": alias,
            "machine (fingerprint)": f"`{machine}`",
            "CPU": tables.plain(get(result, "machine.cpu_model") or "n/a"),
            "devices": ", ".join(sorted(set(found["device"]))),
        })  # fmt: skip
    return tables.to_markdown(pd.DataFrame(rows))


def host_notes_section(notes: Sequence[str]) -> list[str]:
    """The host-speed flags, under a heading of their own that the banner can name."""
    if not notes:
        return []
    return ["## Host speed during the runs\n\n" + "\n\n".join(notes)]


def intro(
    runs_dir: str,
    generated: datetime,
    runs_found: int,
    workloads: Sequence[str] = ("mlp",),
    native_found: int = 0,
) -> str:
    """What this report is, when it was made, how to rebuild it and how to read it."""
    names = ", ".join(f"`{name}`" for name in workloads)
    natives = f" and {native_found} of native references" if native_found else ""
    return (
        f"Keras 3 on TensorFlow, JAX and PyTorch: which backend to use on each machine, for "
        f"the workload{'s' * (len(workloads) > 1)} {names}. From {runs_found} result "
        f"file{'s' * (runs_found != 1)} of Keras runs{natives} under `{runs_dir}`, generated "
        f"{generated:%Y-%m-%d %H:%M} UTC; rebuild with `nox -s report`, add runs with "
        "`nox -s bench`.\n\n"
        "Each value is the **geometric mean** of a group's runs (accuracy: the mean), and a "
        "margin the ratio of two of them with its 95% interval, paired by round where the "
        "runs were interleaved. **Bold** is the fastest and every backend tied with it; a "
        "*tie* is an interval that does not separate them. How to read it: "
        "[reading the report](../docs/reading-the-report.md)."
    )


def training(
    main: pd.DataFrame,
    aside: pd.DataFrame,
    runs_found: int,
    skipped: int,
    figures: Figures,
    groups: pd.DataFrame,
) -> str:
    """Accuracy and training times of every group, the speed figures, noisy flags, quick runs."""
    used = len(main) + len(aside)
    noisy = [row.label for row in main.itertuples() if groups.at[row.group_key, "steady_noisy"]]
    parts = [
        "## Training",
        f"Found {runs_found} readable result file{'s' * (runs_found != 1)}"
        + (f" ({skipped} more skipped, see Skipped files)" if skipped else "")
        + ". For each machine, backend, device, mode (full or quick) and profile the report "
        f"uses the latest group of repeats: {used} group{'s' * (used != 1)}, each run in a "
        "fresh process. *time to a trained model* is the whole `fit`, compile included; "
        "*compile s* is first epoch minus steady epoch; the steady epoch's ± is the half-width "
        "of the 95% interval of its geometric mean.",
        speed.training_table(main, groups),
        noisy_line(noisy, len(main)),
        accuracy_spread(main, groups),
    ]
    if figures.steady_bars:
        parts.append(
            f"![Steady epoch per backend, geometric mean and 95% interval]({figures.steady_bars})"
        )
    for machine, link in figures.time_to_model.items():
        parts.append(f"![Time to a trained model on {machine}: compile and training]({link})")
    if figures.per_machine_left_out:
        parts.append(
            "With this many machines the speed figures per machine are left out; the tables "
            "above hold every number they would show."
        )
    if main["quick"].any() or len(aside):
        parts.append(QUICK_NOTE)
    if len(aside):
        parts += [
            "### Quick runs (not comparable)",
            "These quick runs have a full run of the same machine, backend and device above, "
            "so they are shown only here.",
            speed.training_table(aside, groups),
        ]
    return "\n\n".join(part for part in parts if part)


def noisy_line(noisy: list[str], groups: int) -> str:
    """One sentence: which groups are flagged noisy, and what that means."""
    if not noisy:
        return ""
    return (
        f"{speed.NOISY}: {len(noisy)} of {groups} groups, whose steady-epoch interval is wider "
        f"than ±{MIN_SPEED_EFFECT:.0%}, the smallest difference the report calls a speed-up: "
        f"{', '.join(noisy)}. Alone they cannot resolve it; paired rounds can."
    )


def appendix(main: pd.DataFrame, aside: pd.DataFrame) -> str:
    """Every run behind the report, by group: its id, seed, steady epoch and accuracy."""
    rows = []
    for row in pd.concat([main, aside]).itertuples():
        for result in row.group_runs:
            rows.append({
                "group": row.label,
                "run id": f"`{get(result, 'run_id')}`",
                "seed": tables.fmt(get(result, "config.seed")),
                "steady epoch s": tables.fmt(get(result, "timings.steady_epoch_seconds"), ".3f"),
                "test accuracy": tables.fmt(get(result, "metrics.test_accuracy"), ".4f"),
                "epochs noisy": tables.fmt(get(result, "timings.steady_epoch_noisy")),
                "invocation": f"`{get(result, 'invocation.id')}`",
            })  # fmt: skip
    return "\n\n".join([
        "## Runs used",
        "Every run behind the tables. *epochs noisy*: the run's own steady epochs spread "
        f"wider than ±{MIN_SPEED_EFFECT:.0%} within it.",
        tables.to_markdown(pd.DataFrame(rows), ["seed", "steady epoch s", "test accuracy"]),
    ])  # fmt: skip


def profiles(main: pd.DataFrame, probes: Probes | None = None) -> str:
    """What the tuned profile gains, per steady epoch and for the whole job; each search."""
    table = profile_tables.default_vs_tuned(main, probes)
    lower = profile_tables.lower_precision(main)
    lower_part = [] if lower is None else [LOWER_PRECISION_INTRO, lower]
    if table is None:
        return "\n\n".join(["## Tuned profiles", *lower_part]) if lower_part else ""
    tuned = main[main["profile"] == "tuned"].itertuples()
    searches = [found for row in tuned if (found := profile_tables.tuning_candidates(row))]
    intro = (
        "*default* runs the documented workflow with Keras' defaults; *tuned* keeps the model, "
        "data and hyper-parameters and runs them with the settings a short search found "
        "fastest on this machine. **Tuned means tuned for training**: the search minimises the "
        "median steady epoch (compile excluded), and prediction settings are not searched, so "
        "a tuned profile can predict slower. Gains are default / tuned (> 1: tuned is faster) "
        "with their 95% interval, paired run by run where the suite interleaved the profiles; "
        "FASTER or SLOWER needs the interval to exclude 1 and an effect of at least "
        f"{MIN_SPEED_EFFECT:.0%}, SAME an interval within it, else INCONCLUSIVE. *time to a "
        "trained model* is the documented job (the whole 10-epoch fit, compile included); "
        "*break-even* is the number of epochs after which tuned's faster steady epoch has paid "
        "back its extra compile time (medians); a profile SLOWER for the documented job is "
        "flagged and never recommended for it."
    )
    searches_intro = (
        f"The search behind each tuned group, from its latest run; {profile_tables.CHOSEN} "
        "marks the settings chosen."
    )
    return "\n\n".join([
        "## Tuned profiles",
        intro,
        table,
        *lower_part,
        *([searches_intro, *searches] if searches else []),
    ])  # fmt: skip


LOWER_PRECISION_INTRO = (
    "**Lower precision.** A bf16 profile runs the default settings under Keras' "
    "`mixed_bfloat16` policy (fp16: `mixed_float16`, on GPUs), in the same rounds as float32. "
    "It is ACCEPTED only if it reaches the target accuracy in every run and its test accuracy "
    "is equivalent to float32's on the paired seeds (two one-sided tests, the workload's "
    "margin, 90% interval); otherwise it is REJECTED and never competes in the verdict, "
    "however fast. Gains are float32 / bf16 (> 1: bf16 is faster), paired by round."
)


def prediction(main: pd.DataFrame, groups: pd.DataFrame, figures: Figures | None = None) -> str:
    """Latency, first call and bulk throughput of prediction; throughput against batch size."""
    table = speed.prediction_table(main, groups)
    if table is None:
        return ""
    intro = (
        "After warm-up, on the fastest single-sample path Keras offers on each backend (*path*, "
        "chosen per run by timing them): batch-1 latency percentiles over 300 calls, the first "
        "`predict` call of the run (it pays for tracing or compiling), and throughput at the "
        "largest batch every group of the machine measured. Geometric means of the runs."
    )
    links = (figures.throughput if figures else {}).items()
    plots = [f"![Prediction throughput against batch size on {m}]({link})" for m, link in links]
    return "\n\n".join(["## Prediction", intro, table, *plots])


def declared_settings(main: pd.DataFrame) -> str:
    """The settings that decide speed, as asked and as resolved."""
    table = speed.settings_table(main)
    if table is None:
        return ""
    intro = "As recorded by each group's latest run; environment variables left unset are omitted."
    return "\n\n".join(["### Declared settings", intro, table])


def accuracy_spread(runs: pd.DataFrame, groups: pd.DataFrame) -> str:
    """One line per machine (and mode): the spread of the groups' mean test accuracies."""
    lines = []
    for (machine, quick), found in runs.groupby(["alias", "quick"], sort=False):
        mode = " (quick runs, not comparable)" if quick else ""
        means = groups.loc[found["group_key"], "test_accuracy"].dropna()
        counts = groups.loc[found["group_key"], "test_accuracy_n"]
        if len(means) < 2:
            lines.append(f"Accuracy spread across groups on {machine}{mode}: only one group.")
            continue
        lines.append(
            f"Accuracy spread across groups on {machine}{mode}: the highest minus the lowest "
            f"mean test accuracy = {means.max() - means.min():.4f} ({len(means)} groups of "
            f"{counts.min()} to {counts.max()} runs)."
        )
    return "  \n".join(lines)


def per_class(main: pd.DataFrame, groups: pd.DataFrame) -> str:
    """One table: F1 of each digit per default group, the mean over its runs."""
    table = environment.per_class_table(main)
    if table is None:
        return ""
    return "\n\n".join([
        "## Per-class F1",
        "F1 of each digit on the test set, the mean over each group's runs (*runs*).",
        table,
    ])  # fmt: skip


def skipped_files(skipped: list[tuple[str, str]], others: list[str] = ()) -> str:
    """The result, verdict, probe and self-check files that could not be used, and why."""
    if not skipped and not others:
        return ""
    parts = ["## Skipped files"]
    if skipped:
        parts += [
            "These files are not readable digitrec results and were left out:",
            tables.skipped_table(skipped),
        ]
    if others:
        parts += [
            "These records could not be used and were left out:",
            "\n".join(f"- {line}" for line in others),
        ]
    return "\n\n".join(parts)
