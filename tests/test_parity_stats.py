import numpy as np
import pytest

from bench.parity_stats import (
    accuracy_summary,
    compare_arrays,
    lockstep_verdict,
    pairwise_differences,
    predict_everywhere_verdict,
    statistical_verdict,
)

SAMPLES = {
    "tensorflow": [0.9771, 0.9765, 0.9780],
    "jax": [0.9768, 0.9775, 0.9760],
    "torch": [0.9778, 0.9770, 0.9766],
}


def test_accuracy_summary_matches_a_hand_computed_t_interval():
    summary = accuracy_summary([0.97, 0.98, 0.99])
    assert summary["mean"] == pytest.approx(0.98) and summary["sd"] == pytest.approx(0.01)
    half = 4.302652729911275 * 0.01 / np.sqrt(3)  # t(0.975, 2 dof)
    assert summary["ci95"] == pytest.approx([0.98 - half, 0.98 + half])
    assert accuracy_summary([0.5])["ci95"] is None


def test_close_backends_pass():
    verdict = statistical_verdict(SAMPLES, tolerance=0.003)
    assert verdict["passed"] and len(verdict["pairs"]) == 3
    assert "largest difference" in verdict["message"]


def test_a_shifted_backend_fails_and_is_named_with_the_size():
    shifted = {**SAMPLES, "torch": [a - 0.01 for a in SAMPLES["torch"]]}
    verdict = statistical_verdict(shifted, tolerance=0.003)
    assert not verdict["passed"]
    assert "tensorflow vs torch: mean accuracy differs by +0.0101" in verdict["message"]
    assert "jax vs torch" in verdict["message"] and "tensorflow vs jax" not in verdict["message"]


def test_pairwise_ci_contains_the_difference():
    [pair] = pairwise_differences({"a": [1.0, 2.0, 3.0], "b": [0.0, 1.0, 2.0]}, tolerance=0.5)
    assert pair["difference"] == 1.0 and pair["ci95"][0] < 1.0 < pair["ci95"][1]
    assert pair["passed"] is False


def test_compare_arrays_counts_differing_classes():
    a = np.array([[0.9, 0.1], [0.2, 0.8]])
    b = np.array([[0.4, 0.6], [0.2, 0.8]])
    assert compare_arrays(a, b) == {
        "max_abs_difference": pytest.approx(0.5),
        "argmax_agreement": 0.5,
        "differing_classes": 1,
    }


def outputs(rng, perturb=0.0):
    probabilities = rng.random((100, 10)).astype(np.float32)
    weights = [rng.random((784, 128)).astype(np.float32), rng.random(128).astype(np.float32)]
    return probabilities, weights


def test_lockstep_passes_identical_and_fails_perturbed_outputs():
    probabilities, weights = outputs(np.random.default_rng(0))
    same = {b: {"probabilities": probabilities, "weights": weights} for b in ("tf", "jax")}
    assert lockstep_verdict(same, tolerance=1e-5)["passed"]
    nudged = [weights[0] + 3e-5, weights[1]]
    different = {**same, "jax": {"probabilities": probabilities, "weights": nudged}}
    verdict = lockstep_verdict(different, tolerance=1e-5)
    assert not verdict["passed"] and "tf vs jax" in verdict["message"]
    assert verdict["pairs"][0]["max_abs_weight_difference"] == pytest.approx(3e-5, rel=0.01)


def test_predict_everywhere_passes_identical_and_fails_perturbed_predictions():
    rng = np.random.default_rng(1)
    probabilities = rng.random((200, 10))
    labels = probabilities.argmax(axis=1)
    same = {"tensorflow": probabilities, "jax": probabilities.copy(), "torch": probabilities}
    assert predict_everywhere_verdict("tensorflow", same, labels)["passed"]
    perturbed = probabilities.copy()
    perturbed[3] = perturbed[3][::-1]  # one image now predicted differently
    verdict = predict_everywhere_verdict("tensorflow", {**same, "torch": perturbed}, labels)
    assert not verdict["passed"]
    [torch_row] = [row for row in verdict["backends"] if row["backend"] == "torch"]
    assert torch_row["differing_classes"] == 1 and "torch" in verdict["message"]
