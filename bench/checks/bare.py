"""The documented workflow with a plain `model.fit` and no harness: the reference for the suite.

Usage: python -m bench.checks.bare --backend jax [--data-dir DIR] [--epochs 10] [--seed 0]
Prints one JSON line: each epoch's seconds (stamped at epoch boundaries only), the steady epoch
(median of epochs 2..N) and the test accuracy. `bench.checks.selfcheck` compares it with
`bench.run`.
"""

import argparse
import json
import os
import statistics
import sys
import time

from bench import cli
from digitrec_core.config import BACKENDS


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.checks.bare", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--backend", required=True, choices=BACKENDS)
    cli.add_data_options(parser)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    from bench.backends import environment_for

    os.environ.update(environment_for(args.backend, "cpu"))
    import keras

    from digitrec_core.data import load_mnist
    from digitrec_core.model import build_model
    from digitrec_core.preprocess import preprocess

    data = preprocess(load_mnist(args.data_dir, verify_checksums=args.verify_checksums))
    keras.utils.set_random_seed(args.seed)
    model = build_model()
    stamps = []
    model.fit(
        data.x_train,
        data.y_train,
        epochs=args.epochs,
        batch_size=512,
        verbose=0,
        callbacks=[
            keras.callbacks.LambdaCallback(
                on_epoch_begin=lambda epoch, logs: stamps.append(time.perf_counter()),
                on_epoch_end=lambda epoch, logs: stamps.append(time.perf_counter()),
            )
        ],
    )
    epoch_seconds = [end - start for start, end in zip(stamps[::2], stamps[1::2], strict=True)]
    _, accuracy = model.evaluate(data.x_test, data.y_test, batch_size=512, verbose=0)
    record = {
        "backend": keras.backend.backend(),
        "epoch_seconds": epoch_seconds,
        "steady_epoch_seconds": statistics.median(epoch_seconds[1:]) if args.epochs > 1 else None,
        "test_accuracy": float(accuracy),
    }
    print(json.dumps(record))
    return 0


if __name__ == "__main__":
    sys.exit(main())
