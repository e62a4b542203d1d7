"""Command-line options and folders of the parity commands.

`nox -s parity -- OPTIONS` hands the same options to every backend's runs and to the verdict, so
each command accepts the other's options too (and ignores them).
"""

import argparse
import os
from pathlib import Path

from bench import cli
from bench.parity.checks import ACCURACY_TOLERANCE, LOCKSTEP_TOLERANCE, PREDICT_TOLERANCE
from bench.parity.step_compare import STEP_TOLERANCE
from bench.stats import MIN_SEEDS
from digitrec_core.config import BACKENDS
from digitrec_core.workloads import DEFAULT_WORKLOAD, Workload, file_suffix

# From the power calculation (docs/methodology.md, "Accuracy parity"): with the paired per-seed
# spread measured here, 5 seeds pass identical backends in all three pairs at least 95% of the
# time; TOST itself keeps a true 0.4-point difference from passing more than 5% of the time.
DEFAULT_SEEDS = 5
DEFAULT_LOCKSTEP_EPOCHS = 2  # epoch 1 step by step, one more for the per-epoch table
DEFAULT_TRAINER = "tensorflow"


def parity_dir(results_dir: str | os.PathLike, machine_id: str) -> Path:
    """Where a machine's parity verdicts go."""
    return Path(results_dir, "parity", machine_id)


def work_dir_for(
    results_dir: str | os.PathLike, machine_id: str, workload: str = DEFAULT_WORKLOAD
) -> Path:
    """Where parity runs leave their outputs for the verdict (not committed); a folder of its
    own for each workload but the default."""
    work = parity_dir(results_dir, machine_id) / "work"
    return work if workload == DEFAULT_WORKLOAD else work / file_suffix(workload)[1:]


def _help(text: str, shown: bool) -> str:
    return text if shown else argparse.SUPPRESS


def add_shared_options(parser: argparse.ArgumentParser) -> None:
    """The workload, where results go, and which session's records belong together."""
    parser.add_argument(
        "--workload",
        default=DEFAULT_WORKLOAD,
        help=f"the workload to check (default {DEFAULT_WORKLOAD}; see bench.run --help)",
    )
    cli.add_results_dir(parser)
    parser.add_argument("--work-dir", type=Path, help="default <results-dir>/parity/<machine>/work")
    cli.add_invocation(
        parser,
        "the id every backend's record of one parity session shares (default: "
        f"${cli.INVOCATION_ENV}, which nox sets)",
        dest="session",
    )


def add_runs_options(parser: argparse.ArgumentParser, *, shown: bool = True) -> None:
    """What the parity runs do (`shown=False`: accepted and ignored, as the verdict does)."""
    parser.add_argument(
        "--seeds",
        type=int,
        default=DEFAULT_SEEDS,
        help=_help(
            f"seeds of the statistical check (default {DEFAULT_SEEDS}, at least {MIN_SEEDS})",
            shown,
        ),
    )
    parser.add_argument(
        "--epochs",
        type=int,
        help=_help("epochs of the statistical runs (default: the workload's, 10 for mlp)", shown),
    )
    parser.add_argument(
        "--lockstep-epochs",
        type=int,
        default=DEFAULT_LOCKSTEP_EPOCHS,
        help=_help(f"epochs of the lockstep run (default {DEFAULT_LOCKSTEP_EPOCHS})", shown),
    )
    parser.add_argument(
        "--trainer",
        default=DEFAULT_TRAINER,
        choices=BACKENDS,
        help=_help("the backend whose saved model every backend loads", shown),
    )
    cli.add_data_options(parser, shown=shown)


def add_verdict_options(parser: argparse.ArgumentParser, *, shown: bool = True) -> None:
    """The verdict's tolerances (`shown=False`: accepted and ignored, as the runs do)."""
    for name, default, text in (
        ("accuracy", ACCURACY_TOLERANCE, "equivalence margin of mean test accuracy"),
        ("step", STEP_TOLERANCE, "largest relative difference of a teacher-forced step"),
        (
            "lockstep",
            LOCKSTEP_TOLERANCE,
            "max |difference| after one free-running lockstep epoch (a diagnostic)",
        ),
        ("predict", PREDICT_TOLERANCE, "max |difference| of predictions"),
    ):
        parser.add_argument(
            f"--{name}-tolerance",
            type=float,
            help=_help(f"{text} (default: the workload's; {default} for mlp)", shown),
        )


def tolerances_of(args: argparse.Namespace, workload: Workload) -> dict[str, float]:
    """The verdict's tolerances: the options given, else the workload's own."""
    own = vars(workload.tolerances)
    return {
        name: own[name]
        if getattr(args, f"{name}_tolerance") is None
        else getattr(args, f"{name}_tolerance")
        for name in ("accuracy", "step", "lockstep", "predict")
    }
