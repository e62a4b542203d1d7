"""Teacher-forced steps: each compared step taken from the reference's state, on the same batch.

The reference backend (the parity trainer) saves its state before every compared step of its
free-running epoch, with the localizer's layer records (`save_reference`). Every backend, the
reference included, then loads each of those states, takes that one step on that step's batch,
and keeps what came out (`take_steps`), with the localizer's per-layer comparison. The verdict
compares the outputs pair by pair (`bench.parity.step_compare`).
"""

import hashlib
from pathlib import Path
from typing import Any

import numpy as np

from bench.parity.localize import LocalizerUnavailable, chain, compare_layers
from bench.parity.stepping import State, Stepper, layer_names
from bench.parity.trajectory import Trajectory, digest, epoch_batches
from digitrec_core.results import write_atomically

LAYER_KEYS = ("input", "output", "cotangent")
# The reference also takes each step this many more times, each on its batch in another order
# and from its state moved by one float32 ulp per value: the same step in exact arithmetic,
# other roundings (every sum over the batch adds in another order). How far each output then
# moves is that tensor's rounding noise (`bench.parity.step_compare` allows a multiple of it).
NOISE_DRAWS = 3


def batch_sha256(x: np.ndarray, y: np.ndarray) -> str:
    digest = hashlib.sha256()
    for array in (x, y):
        array = np.ascontiguousarray(array, dtype="<f4")
        digest.update(f"{array.shape}".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def save_npz(path: Path, arrays: dict[str, np.ndarray]) -> Path:
    def save(tmp: Path) -> None:
        with tmp.open("wb") as file:  # np.savez given a name would append ".npz" to it
            np.savez(file, **arrays)

    return write_atomically(path, save)


def save_reference(path: Path, trajectory: Trajectory) -> Path:
    """The reference's state before each compared step and its localizer records, one .npz."""
    arrays: dict[str, np.ndarray] = {"steps": np.array(sorted(trajectory.states))}
    for step, state in trajectory.states.items():
        arrays |= {f"s{step}/w{i}": w for i, w in enumerate(state.weights)}
        arrays |= {f"s{step}/o{i}": o for i, o in enumerate(state.slots)}
        records = trajectory.layers.get(step)
        if isinstance(records, str):
            arrays[f"s{step}/unavailable"] = np.array(records)
            continue
        for index, record in enumerate(records or []):
            arrays |= {f"s{step}/l{index}/{key}": record[key] for key in LAYER_KEYS}
            arrays |= {
                f"s{step}/l{index}/g{j}": g for j, g in enumerate(record["weight_gradients"])
            }
    return save_npz(path, arrays)


def _indexed(saved, prefix: str) -> list[np.ndarray]:
    found, index = [], 0
    while f"{prefix}{index}" in saved:
        found.append(saved[f"{prefix}{index}"])
        index += 1
    return found


def load_reference(path: Path) -> tuple[dict[int, State], dict[int, list[dict] | str]]:
    """The states and localizer records `save_reference` wrote."""
    with np.load(path) as saved:
        keys = set(saved.files)
        states, layers = {}, {}
        for step in saved["steps"].tolist():
            states[step] = State(_indexed(saved, f"s{step}/w"), _indexed(saved, f"s{step}/o"))
            if f"s{step}/unavailable" in keys:
                layers[step] = str(saved[f"s{step}/unavailable"])
                continue
            records, index = [], 0
            while f"s{step}/l{index}/input" in keys:
                prefix = f"s{step}/l{index}/"
                records.append({
                    **{key: saved[prefix + key] for key in LAYER_KEYS},
                    "weight_gradients": _indexed(saved, prefix + "g"),
                })  # fmt: skip
                index += 1
            layers[step] = records
    return states, layers


def take_steps(
    stepper: Stepper,
    model: Any,
    x_train: np.ndarray,
    y_train: np.ndarray,
    reference: tuple[dict[int, State], dict[int, Any]],
    *,
    seed: int,
    batch_size: int,
    vjp,
    noise_draws: int = 0,
) -> tuple[dict[int, dict[str, Any]], dict[str, Any]]:
    """Each compared step from the reference's state: (outputs by step, what the record keeps:
    each step's batch hash, the localizer's per-layer comparison, and the digest of the ReLU
    signs and max-pool choices on the batch from that state). With `noise_draws`
    (the reference), each step's outputs also hold their rounding noise per tensor."""
    states, layers = reference
    batches = epoch_batches(seed, len(x_train), batch_size)
    outputs, batch_hashes, localized, choices = {}, {}, {}, {}
    try:
        chained = chain(model)
    except LocalizerUnavailable:
        chained = None
    for step, state in sorted(states.items()):
        x, y = x_train[batches[step - 1]], y_train[batches[step - 1]]
        stepper.load(state)
        if chained is not None:
            choices[str(step)] = digest(chained, layer_names(model), x)
        records = layers.get(step)
        if isinstance(records, str):
            localized[str(step)] = {"unavailable": records}
        elif records:
            try:
                localized[str(step)] = compare_layers(model, records, vjp)
            except LocalizerUnavailable as exc:
                localized[str(step)] = {"unavailable": str(exc)}
        outputs[step] = as_outputs(stepper.step(x, y))
        if noise_draws:
            outputs[step]["noise"] = rounding_noise(
                stepper, state, x, y, outputs[step], noise_draws, seed=step
            )
        batch_hashes[str(step)] = batch_sha256(x, y)
    kept = {"batches_sha256": batch_hashes, "localizer": localized, "digests": choices}
    return outputs, kept


def as_outputs(taken) -> dict[str, Any]:
    return {
        "loss": taken.loss,
        "gradients": taken.gradients,
        "weights": taken.after.weights,
        "slots": taken.after.slots,
    }


def one_ulp_away(state: State, rng: np.random.Generator) -> State:
    """`state` with every nonzero float32 value moved one ulp up or down at random (zeros stay:
    a second moment of 0 moved below it would have no square root)."""

    def moved(array: np.ndarray) -> np.ndarray:
        if array.dtype != np.float32:
            return array
        toward = np.where(rng.random(array.shape) < 0.5, -np.inf, np.inf).astype(np.float32)
        return np.where(array == 0, array, np.nextafter(array, toward))

    return State([moved(w) for w in state.weights], [moved(o) for o in state.slots])


def rounding_noise(
    stepper: Stepper, state: State, x, y, exact: dict[str, Any], draws: int, *, seed: int
) -> np.ndarray:
    """Per tensor of the step's outputs (in `step_errors` order), the largest relative move of
    `draws` steps on the batch reordered, from one-ulp neighbours of `state`."""
    from bench.parity.step_compare import step_errors

    names = stepper.names.as_dict()
    rng = np.random.default_rng(seed)
    moves = []
    for _ in range(draws):
        stepper.load(one_ulp_away(state, rng))
        moves.append(
            [error for _, error in step_errors(exact, as_outputs(stepper.step(x, y)), names)]
        )
    return np.max(moves, axis=0)


def save_outputs(path: Path, outputs: dict[int, dict[str, Any]]) -> Path:
    arrays: dict[str, np.ndarray] = {"steps": np.array(sorted(outputs))}
    for step, out in outputs.items():
        arrays[f"s{step}/loss"] = np.array(out["loss"])
        if "noise" in out:
            arrays[f"s{step}/noise"] = out["noise"]
        for kind, short in (("gradients", "g"), ("weights", "w"), ("slots", "o")):
            arrays |= {f"s{step}/{short}{i}": a for i, a in enumerate(out[kind])}
    return save_npz(path, arrays)


def load_outputs(path: Path) -> dict[int, dict[str, Any]]:
    with np.load(path) as saved:
        outputs = {
            step: {
                "loss": float(saved[f"s{step}/loss"]),
                "gradients": _indexed(saved, f"s{step}/g"),
                "weights": _indexed(saved, f"s{step}/w"),
                "slots": _indexed(saved, f"s{step}/o"),
            }
            for step in saved["steps"].tolist()
        }
        for step, out in outputs.items():
            if f"s{step}/noise" in saved.files:
                out["noise"] = saved[f"s{step}/noise"]
    return outputs
