"""Writing the report's PNG files: atomically, and in worker processes while the report builds.

Rendering a figure (its layout, its pixels, the PNG encoding) is most of what a report costs.
Inside `in_parallel()`, `save` hands each built figure, pickled, to a pool of processes and
returns at once; leaving the block waits for every file and raises the first error.
"""

import contextlib
import contextvars
import multiprocessing
import os
import pickle
import tempfile
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # before pyplot: no display is needed to write PNG files
import matplotlib.pyplot as plt

DPI = 100
MAX_WORKERS = 4
_POOL: contextvars.ContextVar = contextvars.ContextVar("figure_pool", default=None)


def write_png(fig: plt.Figure, path: Path) -> None:
    """Write `fig` to `path` as PNG beside it and rename it there: never half a file."""
    with tempfile.NamedTemporaryFile(
        dir=path.parent, prefix=f".{path.stem}-", suffix=".png", delete=False
    ) as handle:
        partial = Path(handle.name)
        try:
            # Every figure uses constrained layout, which keeps its text inside the canvas.
            fig.savefig(handle, dpi=DPI, format="png")
        except BaseException:
            handle.close()
            partial.unlink()
            raise
    os.replace(partial, path)


def write_pickled(data: bytes, path: str) -> str:
    """In a worker: unpickle a figure and write it."""
    fig = pickle.loads(data)
    try:
        write_png(fig, Path(path))
    finally:
        plt.close(fig)
    return path


def save(fig: plt.Figure, path: str | os.PathLike) -> Path:
    """Write `fig` to `path` (in a worker inside `in_parallel`) and free it; return the path."""
    path = Path(path)
    found = _POOL.get()
    try:
        if found is None:
            write_png(fig, path)
        else:
            pool, pending = found
            pending.append(pool.submit(write_pickled, pickle.dumps(fig), str(path)))
    finally:
        plt.close(fig)
    return path


@contextlib.contextmanager
def in_parallel(workers: int | None = None) -> Iterator[None]:
    """Within the block, `save` renders in up to `workers` processes (default: the cores)."""
    workers = workers or min(MAX_WORKERS, os.cpu_count() or 1)
    if workers < 2 or _POOL.get() is not None:
        yield
        return
    pending: list[Future] = []
    context = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(workers, mp_context=context) as pool:
        token = _POOL.set((pool, pending))
        try:
            yield
        finally:
            _POOL.reset(token)
            for future in pending:
                future.result()  # the first figure that failed raises here
