"""The result file: one self-describing JSON per benchmark run, the contract with the report.

A result is a plain dict. Its top-level keys (schema version 2; version 1 had per-run "% of
peak" figures, a threads number instead of ``settings.threads``, no ``invocation`` and no
machine fingerprint):

- ``schema_version`` (int), ``run_id`` (str, unique), ``created_utc`` (ISO 8601 str)
- ``backend`` ("tensorflow" | "jax" | "torch")
- ``device``: ``requested`` ("cpu" | "gpu"), ``used`` ("cpu" | "gpu"), ``description`` (str),
  ``framework`` (what the framework sees: GPUs, CUDA and cuDNN versions)
- ``config``: the run's configuration, verbatim (see ``digitrec_core.config.RunConfig``)
- ``data``: ``source`` (str), ``train_samples``, ``test_samples`` (int), ``checksums_verified``
- ``model``: ``parameters`` (int), ``summary`` (list of layer descriptions),
  ``initial_weights_sha256`` (hash of the numpy initial weights as loaded: equal across backends)
- ``versions``: ``python``, ``keras``, ``numpy``, ``framework`` (name of the backend package),
  ``framework_version``
- ``machine``: ``id`` (readable slug ending in the hash of ``fingerprint``), ``hostname``,
  ``platform``, ``cpu_model``, ``cpu_cores_logical``, ``cpu_cores_physical``, ``memory_gib``,
  ``gpus`` (list of dicts), ``fingerprint`` (CPU vendor, family, model number, stepping, name,
  architecture, ISA flags, cores, memory to 4 GiB, GPUs)
- ``git``: ``commit`` (str | None), ``dirty`` (bool | None; changes under results/ not counted)
- ``command``: the command line of the run (list of str, ``python -m bench.run ...``)
- ``invocation``: ``id`` of the nox command (or bench.suite) the run belongs to, None alone;
  the report takes one GEMM peak and one host speed per invocation
- ``repeat``: ``group``, ``index``, ``count``, ``interleaved`` (run i of each profile ran
  side by side, so the report pairs them)
- ``settings``: ``profile``, ``jit_compile_requested``, ``jit_compile_resolved``,
  ``steps_per_execution``, ``threads`` (``requested``, ``cpu_affinity``, ``busy_cores_gemm``,
  ``busy_cores_fit``, ``in_effect``: whether the measured busy cores confirm the limit),
  ``tf32_requested``, ``dtype_policy``, ``framework``, ``environment``
- ``memory``: ``peak_rss_mib``, ``peak_gpu_mib``
- ``roofline``: ``flops_formula``, ``flops_per_sample``, ``flops_per_epoch``,
  ``achieved_gflops``, ``framework_gemm`` (the framework's own GEMM rates, see
  ``bench.gemm_probe.gemm_rates``)
- ``tuning``: the search that chose a tuned run's settings (None for default runs)
- ``timings`` (seconds unless the name says otherwise): ``fit_seconds``, ``epoch_seconds`` (list),
  ``first_epoch_seconds``, ``steady_epoch_seconds`` (median of epochs after the first, None with
  one epoch), ``train_samples_per_second``, ``evaluate_seconds``,
  ``predict_first_call_seconds`` (tracing included), ``predict_seconds`` (a second, warm call),
  ``predict_samples_per_second``, ``steady_epoch_*`` spread (``resolution``: half-width of
  the 95% interval of the steady epochs, as a fraction)
- ``metrics``: ``test_loss``, ``test_accuracy``, ``history`` (``loss`` and ``accuracy`` lists,
  one entry per epoch), ``confusion_matrix`` (10x10 list, rows true, columns predicted),
  ``per_class`` (list of ``{"class", "precision", "recall", "f1", "support"}``),
  ``macro_f1``, ``predicted_classes`` (list over the test set)
- ``samples``: ``first_of_each_class`` (``labels`` and ``images``), ``first_train_labels``,
  ``first_test_labels``, ``random_test`` (``seed``, ``indices``, ``labels``, ``predicted``,
  ``images``). Images are 28x28 uint8, stored as ``{"shape": [...], "base64": str}``.
"""

import base64
import contextlib
import json
import os
import signal
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

SCHEMA_VERSION = 2
REQUIRED_KEYS = (
    "schema_version",
    "run_id",
    "created_utc",
    "backend",
    "device",
    "config",
    "data",
    "versions",
    "machine",
    "git",
    "timings",
    "metrics",
)


class ResultFileError(ValueError):
    """A result file that cannot be read as a digitrec result."""


def encode_images(images: np.ndarray) -> dict[str, Any]:
    """Pack a uint8 image array into a JSON-safe dict."""
    images = np.ascontiguousarray(images, dtype=np.uint8)
    return {"shape": list(images.shape), "base64": base64.b64encode(images.tobytes()).decode()}


def decode_images(packed: dict[str, Any]) -> np.ndarray:
    """Unpack images stored by `encode_images`."""
    raw = base64.b64decode(packed["base64"])
    return np.frombuffer(raw, dtype=np.uint8).reshape(packed["shape"])


@contextlib.contextmanager
def signals_held() -> Iterator[None]:
    """Hold SIGINT and SIGTERM until the block ends: a stop lands before or after it, not inside.

    Works whichever thread the operating system hands the signal to, since Python runs its
    handlers in the main thread; elsewhere (handlers cannot be changed there) it holds nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    held = (signal.SIGINT, signal.SIGTERM)
    previous = {signum: signal.getsignal(signum) for signum in held}
    for signum in held:
        if previous[signum] is not signal.SIG_IGN:
            signal.signal(signum, lambda number, frame: caught.append(number))
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, signal.SIG_DFL if handler is None else handler)
        for signum in caught[:1]:
            signal.raise_signal(signum)


def write_atomically(path: str | os.PathLike, write: Callable[[Path], None]) -> Path:
    """Let `write` fill a temporary file beside `path`, then move it there: never partial.

    The temporary file keeps `path`'s suffix (Keras insists on ".keras"), and is removed if
    `write` fails. Signals are held meanwhile, so even a process that exits on the spot at
    Ctrl-C leaves either the whole file or none, and no temporary file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with signals_held():
        fd, tmp_name = tempfile.mkstemp(
            prefix=f".{path.stem}.", suffix=path.suffix, dir=path.parent
        )
        os.close(fd)
        tmp = Path(tmp_name)
        try:
            write(tmp)
            with tmp.open("rb+") as written:
                os.fsync(written.fileno())
            os.chmod(tmp, 0o644)  # mkstemp creates 0600; results are meant to be shared
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    return path


def write_text_atomically(path: str | os.PathLike, text: str) -> Path:
    """Write `text` to `path` through a temporary file and os.replace, so it is never partial."""
    return write_atomically(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def write_result(result: dict[str, Any], path: str | os.PathLike) -> Path:
    """Write `result` as JSON to `path` atomically; refuse to overwrite an existing file."""
    path = Path(path)
    if path.exists():
        raise FileExistsError(f"result file {path} already exists; results are never overwritten")
    text = json.dumps(result, indent=1, allow_nan=False) + "\n"
    return write_text_atomically(path, text)


def read_result(path: str | os.PathLike) -> dict[str, Any]:
    """Read and check one result file; raise ResultFileError naming what is wrong."""
    path = Path(path)
    try:
        result = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ResultFileError(f"{path}: not a readable JSON file ({exc})") from exc
    if not isinstance(result, dict):
        raise ResultFileError(f"{path}: expected a JSON object, found {type(result).__name__}")
    version = result.get("schema_version")
    if version != SCHEMA_VERSION:
        raise ResultFileError(
            f"{path}: schema_version {version!r}, this digitrec reads {SCHEMA_VERSION}; "
            "rerun the benchmark or read it with the digitrec version that wrote it"
        )
    missing = [key for key in REQUIRED_KEYS if key not in result]
    if missing:
        raise ResultFileError(f"{path}: missing keys {missing}; the file is incomplete")
    return result


def iter_result_paths(results_dir: str | os.PathLike) -> Iterator[Path]:
    """Yield every result JSON under `results_dir/runs`, in a stable order."""
    yield from sorted(Path(results_dir, "runs").rglob("*.json"))
