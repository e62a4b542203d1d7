import numpy as np
import pytest

from bench.parity.checks import (
    compare_arrays,
    predict_everywhere_verdict,
    statistical_verdict,
)
from bench.stats import FAIL, INCONCLUSIVE, PASS

# Measured-looking accuracies for seeds 0..4 (paired sd about 0.001).
SAMPLES = {
    "tensorflow": [0.9771, 0.9765, 0.9780, 0.9758, 0.9774],
    "jax": [0.9768, 0.9775, 0.9776, 0.9760, 0.9770],
    "torch": [0.9778, 0.9770, 0.9782, 0.9752, 0.9779],
}


def by_seed(samples: dict[str, list[float]]) -> dict[str, dict[int, float]]:
    return {backend: dict(enumerate(values)) for backend, values in samples.items()}


def test_identical_backends_pass():
    same = {backend: SAMPLES["tensorflow"] for backend in SAMPLES}
    verdict = statistical_verdict(by_seed(same), tolerance=0.004)
    assert verdict["outcome"] == PASS and verdict["passed"]
    assert all(p["mean_difference"] == 0 for p in verdict["pairs"])
    assert [p["pair"] for p in verdict["pairs"]] == [
        "tensorflow vs jax",
        "tensorflow vs torch",
        "jax vs torch",
    ]


def test_close_backends_pass_on_their_paired_intervals():
    verdict = statistical_verdict(by_seed(SAMPLES), tolerance=0.004)
    assert verdict["outcome"] == PASS and verdict["seeds"] == [0, 1, 2, 3, 4]
    for pair in verdict["pairs"]:
        assert pair["ci"][0] > -0.004 and pair["ci"][1] < 0.004
        assert pair["power_if_identical"] > 0.9
    assert "90% intervals" in verdict["message"]


def test_pairs_are_made_by_seed_not_by_position():
    shuffled = {backend: dict(enumerate(values)) for backend, values in SAMPLES.items()}
    shuffled["jax"] = dict(reversed(list(shuffled["jax"].items())))
    assert (
        statistical_verdict(shuffled, 0.004)["pairs"]
        == statistical_verdict(by_seed(SAMPLES), 0.004)["pairs"]
    )


def test_a_backend_shifted_past_the_tolerance_fails_and_is_named():
    shifted = {**SAMPLES, "jax": [a + 0.006 for a in SAMPLES["jax"]]}
    verdict = statistical_verdict(by_seed(shifted), tolerance=0.004)
    assert verdict["outcome"] == FAIL and not verdict["passed"]
    outcomes = {p["pair"]: p["outcome"] for p in verdict["pairs"]}
    assert outcomes == {
        "tensorflow vs jax": FAIL,
        "tensorflow vs torch": PASS,
        "jax vs torch": FAIL,
    }
    assert "tensorflow vs jax: -0.0060 [-0.0066, -0.0054] FAIL" in verdict["message"]


def test_a_true_difference_at_the_tolerance_does_not_pass():
    # The old rule passed this whenever |mean difference| < 0.004; TOST wants the whole interval.
    near = {**SAMPLES, "jax": [a + 0.0035 for a in SAMPLES["tensorflow"]]}
    noisy = {
        **near,
        "jax": [
            a + d for a, d in zip(near["jax"], [0.002, -0.002, 0.0, 0.001, -0.001], strict=True)
        ],
    }
    verdict = statistical_verdict(by_seed(noisy), tolerance=0.004)
    pair = verdict["pairs"][0]
    assert abs(pair["mean_difference"]) < 0.004 and pair["outcome"] == INCONCLUSIVE
    assert verdict["outcome"] == INCONCLUSIVE and not verdict["passed"]
    assert "seeds would likely decide it" in verdict["message"]


@pytest.mark.parametrize(
    ("samples", "tolerance", "match"),
    [
        ({"tensorflow": {0: 0.97}}, 0.004, "needs at least two backends"),
        (by_seed({k: v[:2] for k, v in SAMPLES.items()}), 0.004, "needs at least 3 seeds"),
        ({"a": {0: 0.9, 1: 0.9, 2: 0.9}, "b": {0: 0.9, 1: 0.9, 3: 0.9}}, 0.004, "different seeds"),
        (by_seed(SAMPLES), -0.1, "tolerance must be a finite number >= 0"),
        (by_seed(SAMPLES), float("nan"), "tolerance must be a finite number >= 0"),
        ({"a": {0: 0.9, 1: 0.9, 2: float("nan")}, "b": {0: 0.9, 1: 0.9, 2: 0.9}}, 0.004, "finite"),
    ],
)
def test_bad_statistical_inputs_are_refused_by_name(samples, tolerance, match):
    with pytest.raises(ValueError, match=match):
        statistical_verdict(samples, tolerance)


def test_compare_arrays_counts_differing_classes():
    a = np.array([[0.9, 0.1], [0.2, 0.8]])
    b = np.array([[0.4, 0.6], [0.2, 0.8]])
    assert compare_arrays(a, b) == {
        "max_abs_difference": pytest.approx(0.5),
        "argmax_agreement": 0.5,
        "differing_classes": 1,
    }
    assert compare_arrays(np.ones(3), np.ones(3)) == {"max_abs_difference": 0.0}
    with pytest.raises(ValueError, match=r"one shape, got \(3,\) and \(4,\)"):
        compare_arrays(np.ones(3), np.ones(4))


def predictions(seed: int = 1) -> tuple[dict[str, np.ndarray], np.ndarray]:
    probabilities = np.random.default_rng(seed).random((200, 10))
    labels = probabilities.argmax(axis=1)
    labels[:20] = (labels[:20] + 1) % 10  # a model that is 90% right
    same = {"tensorflow": probabilities, "jax": probabilities.copy(), "torch": probabilities}
    return same, labels


def test_predict_everywhere_passes_identical_predictions():
    same, labels = predictions()
    verdict = predict_everywhere_verdict("tensorflow", same, labels)
    assert verdict["passed"] and verdict["reference_accuracy"] == 0.9
    assert [row["backend"] for row in verdict["backends"]] == ["jax", "torch"]


def test_predict_everywhere_fails_a_changed_class():
    same, labels = predictions()
    perturbed = same["torch"].copy()
    perturbed[30] = perturbed[30][::-1]  # one image now predicted differently
    verdict = predict_everywhere_verdict("tensorflow", {**same, "torch": perturbed}, labels)
    assert not verdict["passed"]
    [jax_row, torch_row] = verdict["backends"]
    assert jax_row["passed"] and not torch_row["passed"]
    assert torch_row["differing_classes"] == 1 and torch_row["test_accuracy"] == 0.895
    assert (
        "torch: max |Δ|" in verdict["message"]
        and "accuracy 0.8950 vs 0.9000" in (verdict["message"])
    )


def test_predict_everywhere_fails_a_small_difference_beyond_tolerance():
    same, labels = predictions()
    nudged = same["jax"] + 3e-5  # no class changes, only the numbers
    verdict = predict_everywhere_verdict("tensorflow", {**same, "jax": nudged}, labels)
    [jax_row, _] = verdict["backends"]
    assert not verdict["passed"] and jax_row["differing_classes"] == 0
    assert "jax: max |Δ| 3.00e-05" in verdict["message"]


def test_predict_everywhere_refuses_unusable_inputs_by_name():
    same, labels = predictions()
    with pytest.raises(ValueError, match="trained_on='cntk' has no predictions"):
        predict_everywhere_verdict("cntk", same, labels)
    with pytest.raises(ValueError, match="needs at least two backends"):
        predict_everywhere_verdict("jax", {"jax": same["jax"]}, labels)
    with pytest.raises(ValueError, match=r"labels \(samples,\) class indices"):
        predict_everywhere_verdict("jax", same, labels[:10])
    with pytest.raises(ValueError, match=r"predictions_by_backend\['torch'\]"):
        predict_everywhere_verdict("jax", {**same, "torch": same["torch"][:10]}, labels)
