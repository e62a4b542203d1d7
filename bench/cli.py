"""Command-line options every digitrec command shares, with the settings they default to.

Standard library only: the noxfile imports this module too, outside any virtualenv.
"""

import argparse
import os
import signal
import sys
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

RESULTS_DIR_ENV = "DIGITREC_RESULTS_DIR"
DATA_DIR_ENV = "DIGITREC_DATA_DIR"
INVOCATION_ENV = "DIGITREC_INVOCATION"


def new_invocation_id() -> str:
    """A fresh id for one invocation: its UTC start and a random suffix."""
    return f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}"


def add_results_dir(parser: argparse.ArgumentParser, what: str = "results") -> None:
    """--results-dir: $DIGITREC_RESULTS_DIR, else results/."""
    parser.add_argument(
        "--results-dir",
        type=Path,
        default=Path(os.environ.get(RESULTS_DIR_ENV) or "results"),
        help=f"folder of the {what} (default: ${RESULTS_DIR_ENV}, else results)",
    )


def add_data_options(parser: argparse.ArgumentParser, *, shown: bool = True) -> None:
    """--data-dir ($DIGITREC_DATA_DIR, else download) and --no-verify-checksums.

    `shown=False` accepts them without listing them in --help (for commands that ignore them).
    """
    parser.add_argument(
        "--data-dir",
        default=os.environ.get(DATA_DIR_ENV) or None,
        help="folder with the four MNIST IDX files (.gz or raw) or mnist.npz (default: "
        f"${DATA_DIR_ENV}, else download with keras.datasets.mnist)"
        if shown
        else argparse.SUPPRESS,
    )
    parser.add_argument(
        "--no-verify-checksums",
        dest="verify_checksums",
        action="store_false",
        help="accept well-formed data that is not the official MNIST (custom or synthetic sets)"
        if shown
        else argparse.SUPPRESS,
    )


def add_invocation(parser: argparse.ArgumentParser, help_text: str, dest: str = "invocation"):
    """--invocation (or another flag name via `dest`): $DIGITREC_INVOCATION, else None."""
    parser.add_argument(
        f"--{dest}",
        default=os.environ.get(INVOCATION_ENV) or None,
        help=help_text,
    )


# Exit codes of every digitrec command (the suite reads a run's to know what happened to it).
EXIT_ERROR = 1  # something unexpected; --debug shows the traceback
EXIT_REFUSED = 2  # bad input: options, data, results folder; nothing was written
EXIT_NO_BACKEND = 3  # the backend cannot be imported: no use trying it again
EXIT_SIGINT = 128 + signal.SIGINT  # 130
EXIT_SIGTERM = 128 + signal.SIGTERM  # 143


class Terminated(BaseException):
    """SIGTERM arrived: unwind like KeyboardInterrupt, so nothing half-done is kept."""


def _raise_terminated(signum, frame) -> None:
    raise Terminated


SIGNAL_WORDS = {signal.SIGINT: "interrupted (Ctrl-C)", signal.SIGTERM: "terminated (SIGTERM)"}


def _exit_at_once(interrupted: str) -> Callable:
    def handler(signum, frame) -> None:
        print(f"{SIGNAL_WORDS[signum]}: {interrupted}", file=sys.stderr)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(128 + signum)

    return handler


def add_debug(parser: argparse.ArgumentParser) -> None:
    """--debug: show the traceback of an unexpected error instead of one line."""
    parser.add_argument(
        "--debug", action="store_true", help="show tracebacks (default: one line per error)"
    )


def run_guarded(
    body: Callable[[], int], *, debug: bool, interrupted: str, exit_at_once: bool = False
) -> int:
    """Run `body`; Ctrl-C, SIGTERM and unexpected errors become one line on stderr and a code.

    `interrupted` says what an interruption leaves behind ("no result written").

    `exit_at_once` is for bodies that run framework code: a signal then ends the process on the
    spot instead of unwinding, because an exception raised from a signal handler inside
    TensorFlow's C++ can crash it (a segfault in ``convert_to_eager_tensor``, about one SIGTERM
    in ten mid-fit). Files are written atomically with signals held (see
    ``digitrec_core.results.write_atomically``), so exiting at once never leaves half a file.
    """
    if exit_at_once:
        handler = _exit_at_once(interrupted)
        signal.signal(signal.SIGTERM, handler)
        if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:  # nohup / background: keep it so
            signal.signal(signal.SIGINT, handler)
    else:
        signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        return body()
    except KeyboardInterrupt:
        print(f"{SIGNAL_WORDS[signal.SIGINT]}: {interrupted}", file=sys.stderr)
        return EXIT_SIGINT
    except Terminated:
        print(f"{SIGNAL_WORDS[signal.SIGTERM]}: {interrupted}", file=sys.stderr)
        return EXIT_SIGTERM
    except Exception as exc:
        if debug:
            raise
        print(
            f"error: {type(exc).__name__}: {exc} (rerun with --debug for the traceback)",
            file=sys.stderr,
        )
        return EXIT_ERROR
