"""Benchmark the documented MNIST workflow under one Keras backend, in this process.

Usage: python -m bench.run --backend jax [--device cpu] [--seed 0] [--epochs 10] [--quick] ...
Writes one result JSON to <results-dir>/runs/<machine id>/<run id>.json and prints its path.
"""

import argparse
import contextlib
import json
import os
import sys
import tempfile
from pathlib import Path

from bench import cli
from digitrec_core.config import (
    BACKENDS,
    DEVICES,
    IMPLEMENTATIONS,
    LOWER_PRECISION_PROFILES,
    PRECISION_PROFILE,
    PRECISIONS,
    PROFILES,
    RunConfig,
)
from digitrec_core.workloads import BUILT_IN, DEFAULT_WORKLOAD, load_workload

QUICK_TRAIN_SAMPLES = 6000
QUICK_TEST_SAMPLES = 1000
QUICK_EPOCHS = 2


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n")[0])
    parser.add_argument("--backend", required=True, choices=BACKENDS)
    parser.add_argument("--device", default="cpu", choices=DEVICES)
    parser.add_argument(
        "--workload",
        default=DEFAULT_WORKLOAD,
        help=f"what to train: {' or '.join(BUILT_IN)} (default {DEFAULT_WORKLOAD}), or your own "
        "as package.module:name",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--epochs", type=int, help=f"default: the workload's, or {QUICK_EPOCHS} with --quick"
    )
    parser.add_argument("--batch-size", type=int, help="default: the workload's")
    parser.add_argument("--predict-batch-size", type=int, default=512)
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"smoke run: first {QUICK_TRAIN_SAMPLES} train and {QUICK_TEST_SAMPLES} test "
        f"images, {QUICK_EPOCHS} epochs unless --epochs is given; labelled 'quick' in the report",
    )
    parser.add_argument("--train-samples", type=int, help="use the first N training images")
    parser.add_argument("--test-samples", type=int, help="use the first N test images")
    cli.add_data_options(parser)
    parser.add_argument(
        "--jit-compile",
        default="auto",
        choices=("auto", "true", "false"),
        help="Keras jit_compile (default auto)",
    )
    parser.add_argument("--steps-per-execution", type=int, default=1)
    parser.add_argument(
        "--threads", type=int, help="limit the framework's intra-op threads (default: its own)"
    )
    parser.add_argument(
        "--tf32",
        action="store_true",
        help="allow TF32 for float32 matmuls on GPU, on every backend (default: off everywhere)",
    )
    parser.add_argument(
        "--precision",
        choices=PRECISIONS,
        help="the Keras dtype policy to train under (default float32); a lower precision is "
        "a profile of its own, bf16 or fp16, which each imply theirs",
    )
    parser.add_argument(
        "--profile",
        choices=PROFILES,
        help="the settings profile this run belongs to (the report shows profiles side by "
        "side; default: the one of --precision, else default)",
    )
    parser.add_argument(
        "--implementation",
        choices=IMPLEMENTATIONS,
        default="keras",
        help="what trains the model: keras (default), or the framework alone, the workload's "
        "native reference (the MLP only; native-compiled: torch.compile, torch only); native "
        "runs are kept out of the ranking, the report shows them as Keras's overhead",
    )
    # Set by bench.suite, which runs the rounds and the tuning search: the run's place in its
    # invocation (the result's `repeat` section, as JSON) and what to probe.
    parser.add_argument("--repeat", type=repeat_section, help=argparse.SUPPRESS)
    parser.add_argument("--tuning-record", type=Path, help=argparse.SUPPRESS)
    parser.add_argument(
        "--framework-probe",
        choices=("full", "threads", "none"),
        default="full",
        help=argparse.SUPPRESS,
    )
    # One id for every run of one nox command (set by the noxfile).
    cli.add_invocation(parser, argparse.SUPPRESS)
    parser.add_argument(
        "--training-trial",
        dest="speed_extras",
        action="store_false",
        help=argparse.SUPPRESS,  # tuning/faithfulness trials: no predict or matmul probes
    )
    cli.add_results_dir(parser, "result files")
    parser.add_argument("--out", type=Path, help="exact path of the result file to write")
    cli.add_debug(parser)
    return parser.parse_args(argv)


def repeat_section(text: str) -> dict:
    """The `repeat` section a suite gives a run, as JSON (see digitrec_core.results.SCHEMA)."""
    from digitrec_core.results import SCHEMA

    try:
        section = json.loads(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not JSON: {exc}") from None
    undocumented = sorted(set(section) - set(SCHEMA["repeat"])) if isinstance(section, dict) else 0
    if not isinstance(section, dict) or undocumented:
        raise argparse.ArgumentTypeError(
            f"expected a JSON object with the keys of results.SCHEMA['repeat'], got {text!r}"
        )
    return section


def config_from_args(args: argparse.Namespace) -> RunConfig:
    """Build the run's config; the workload and --quick fill in what is not given explicitly.

    Loading a user's workload imports their module: call this after `prepare_environment`.
    """
    workload = load_workload(args.workload)
    quick = args.quick
    epochs = (
        args.epochs if args.epochs is not None else (QUICK_EPOCHS if quick else workload.epochs)
    )
    train_samples = args.train_samples or (QUICK_TRAIN_SAMPLES if quick else None)
    test_samples = args.test_samples or (QUICK_TEST_SAMPLES if quick else None)
    jit = {"auto": "auto", "true": True, "false": False}[args.jit_compile]
    return RunConfig(
        backend=args.backend,
        device=args.device,
        workload=args.workload,
        seed=args.seed,
        epochs=epochs,
        batch_size=args.batch_size if args.batch_size is not None else workload.batch_size,
        predict_batch_size=args.predict_batch_size,
        train_samples=train_samples,
        test_samples=test_samples,
        quick=quick or train_samples is not None or test_samples is not None,
        jit_compile=jit,
        steps_per_execution=args.steps_per_execution,
        threads=args.threads,
        tf32=args.tf32,
        precision=args.precision or LOWER_PRECISION_PROFILES.get(args.profile, "float32"),
        profile=args.profile or PRECISION_PROFILE.get(args.precision, "default"),
        implementation=args.implementation,
        # As given: a relative folder keeps the user's own layout out of shared result files.
        data_dir=args.data_dir,
        verify_checksums=args.verify_checksums,
    )


def prepare_environment(args: argparse.Namespace) -> None:
    """Select the backend, device and cores through the environment, before keras is imported."""
    from bench.backends import environment_for, restrict_to_cores

    if "keras" in sys.modules:
        raise RuntimeError("keras was imported before the backend was chosen; run bench.run fresh")
    if args.threads is not None and args.threads < 1:
        raise ValueError(f"threads must be a positive integer or None, got {args.threads!r}")
    os.environ.update(environment_for(args.backend, args.device, args.threads, args.tf32))
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if args.threads is not None:
        restrict_to_cores(args.threads)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return cli.run_guarded(
        lambda: run(args), debug=args.debug, interrupted="no result written", exit_at_once=True
    )


class ResultsFolderError(OSError):
    """The results folder cannot take a result file."""


def check_writable(folder: Path) -> None:
    """Refuse before training when `folder` cannot take a result file (a write probe).

    Leaves nothing behind: the probe file, and any folders made for it, are removed again.
    """
    created = [parent for parent in [folder, *folder.parents] if not parent.exists()]
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-probe-"):
            pass
    except OSError as exc:
        raise ResultsFolderError(
            f"cannot write result files to {folder} ({exc.strerror or exc}); choose a writable "
            "--results-dir (or DIGITREC_RESULTS_DIR), or free space there"
        ) from None
    finally:
        for made in created:  # deepest first; one another process filled stays
            with contextlib.suppress(OSError):
                made.rmdir()


def run(args: argparse.Namespace) -> int:
    """The run itself: refuse bad input with one line, train, write the result atomically."""
    try:
        check_writable(args.out.parent if args.out else Path(args.results_dir, "runs"))
        prepare_environment(args)
        config = config_from_args(args)
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return cli.EXIT_REFUSED
    try:
        from bench.run.workflow import BackendMismatchError, run_benchmark
    except ImportError as exc:
        print(
            f"error: cannot import keras with backend {config.backend!r} ({exc}); install it "
            f"with pip install -e '.[{config.backend}]', or run "
            f"nox -s \"install(backend='{config.backend}', device='{config.device}')\"",
            file=sys.stderr,
        )
        return cli.EXIT_NO_BACKEND

    from bench.backends.native import NativeError
    from digitrec_core.idx import DataFileError
    from digitrec_core.preprocess import SubsetError
    from digitrec_core.results import ALONE, write_result

    try:
        repeat = {**ALONE, **(args.repeat or {})}
        tuning = json.loads(args.tuning_record.read_text()) if args.tuning_record else None
        result = run_benchmark(
            config,
            log=lambda line: print(line, flush=True),
            repeat=repeat,
            tuning=tuning,
            invocation=args.invocation,
            speed_extras=args.speed_extras,
            framework_probe=args.framework_probe,
        )
    except (DataFileError, BackendMismatchError, SubsetError, NativeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return cli.EXIT_REFUSED
    path = args.out or Path(
        args.results_dir, "runs", result["machine"]["id"], f"{result['run_id']}.json"
    )
    try:
        write_result(result, path)
    except OSError as exc:
        print(
            f"error: could not write the result to {path} ({exc.strerror or exc}); nothing was "
            "written: free space or choose another --results-dir",
            file=sys.stderr,
        )
        return cli.EXIT_ERROR
    print(f"result written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
