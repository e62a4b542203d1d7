"""Command-line options of the parity commands.

`nox -s parity -- OPTIONS` hands the same options to every backend's runs and to the verdict, so
each command accepts the other's options too (and ignores them).
"""

import argparse
import os
from pathlib import Path

from bench.parity.checks import ACCURACY_TOLERANCE, LOCKSTEP_TOLERANCE, PREDICT_TOLERANCE
from digitrec_core.config import BACKENDS

DOCUMENTED_EPOCHS = 10
# From the power calculation in the README ("Accuracy parity"): with the paired seed-to-seed
# spread measured here, 5 seeds pass identical backends in all three pairs at least 95% of the
# time; TOST itself keeps a true 0.4-point difference from passing more than 5% of the time.
DEFAULT_SEEDS = 5
DEFAULT_LOCKSTEP_EPOCHS = 5
DEFAULT_TRAINER = "tensorflow"


def add_shared_options(parser: argparse.ArgumentParser) -> None:
    """Where results go, and which session's records belong together."""
    parser.add_argument(
        "--results-dir",
        type=Path,
        default=Path(os.environ.get("DIGITREC_RESULTS_DIR") or "results"),
    )
    parser.add_argument("--work-dir", type=Path, help="default <results-dir>/parity/<machine>/work")
    parser.add_argument(
        "--session",
        default=os.environ.get("DIGITREC_INVOCATION") or None,
        help="the id every backend's record of one parity session shares (default: "
        "$DIGITREC_INVOCATION, which nox sets)",
    )


def add_runs_options(parser: argparse.ArgumentParser, *, shown: bool = True) -> None:
    """What the parity runs do (`shown=False`: accepted and ignored, as the verdict does)."""

    def help_text(text: str) -> str:
        return text if shown else argparse.SUPPRESS

    parser.add_argument(
        "--seeds",
        type=int,
        default=DEFAULT_SEEDS,
        help=help_text(f"seeds of the statistical check (default {DEFAULT_SEEDS}, at least 3)"),
    )
    parser.add_argument(
        "--epochs",
        type=int,
        default=DOCUMENTED_EPOCHS,
        help=help_text("epochs of the statistical runs (default: the documented 10)"),
    )
    parser.add_argument(
        "--lockstep-epochs",
        type=int,
        default=DEFAULT_LOCKSTEP_EPOCHS,
        help=help_text(f"epochs of the lockstep run (default {DEFAULT_LOCKSTEP_EPOCHS})"),
    )
    parser.add_argument(
        "--trainer",
        default=DEFAULT_TRAINER,
        choices=BACKENDS,
        help=help_text("the backend whose saved model every backend loads"),
    )
    parser.add_argument(
        "--data-dir",
        default=os.environ.get("DIGITREC_DATA_DIR") or None,
        help=help_text("MNIST folder (default: $DIGITREC_DATA_DIR, else download)"),
    )
    parser.add_argument(
        "--no-verify-checksums",
        dest="verify",
        action="store_false",
        help=help_text("accept well-formed data that is not the official MNIST"),
    )


def add_verdict_options(parser: argparse.ArgumentParser, *, shown: bool = True) -> None:
    """The verdict's tolerances (`shown=False`: accepted and ignored, as the runs do)."""

    def help_text(text: str) -> str:
        return text if shown else argparse.SUPPRESS

    parser.add_argument(
        "--accuracy-tolerance",
        type=float,
        default=ACCURACY_TOLERANCE,
        help=help_text(f"equivalence margin of mean test accuracy (default {ACCURACY_TOLERANCE})"),
    )
    parser.add_argument(
        "--lockstep-tolerance",
        type=float,
        default=LOCKSTEP_TOLERANCE,
        help=help_text(f"max |difference| after one lockstep epoch (default {LOCKSTEP_TOLERANCE})"),
    )
    parser.add_argument(
        "--predict-tolerance",
        type=float,
        default=PREDICT_TOLERANCE,
        help=help_text(f"max |difference| of predictions (default {PREDICT_TOLERANCE})"),
    )
