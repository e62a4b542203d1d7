import keras
import pytest

from digitrec_core.model import build_model

pytestmark = pytest.mark.backend  # needs a Keras backend installed


def test_model_is_the_documented_mlp():
    model = build_model()
    described = [
        (
            type(layer).__name__,
            layer.get_config().get("units"),
            layer.get_config().get("activation"),
            layer.get_config().get("rate"),
        )
        for layer in model.layers
    ]
    assert described == [
        ("Dense", 128, "relu", None),
        ("Dense", 128, "relu", None),
        ("Dropout", None, None, 0.25),
        ("Dense", 10, "softmax", None),
    ]
    assert model.input_shape == (None, 784)
    assert model.count_params() == 118_282


def test_model_compiles_with_adam_and_categorical_crossentropy():
    model = build_model()
    assert isinstance(model.optimizer, keras.optimizers.Adam)
    # Keras' Adam defaults: the notebook compiled with the string "adam".
    adam = model.optimizer.get_config()
    assert adam["learning_rate"] == pytest.approx(1e-3)
    assert (adam["beta_1"], adam["beta_2"], adam["epsilon"]) == (0.9, 0.999, 1e-7)
    compiled = model.get_compile_config()
    assert compiled["loss"] == "categorical_crossentropy"
    assert compiled["metrics"] == ["accuracy"]


def test_speed_settings_pass_through():
    model = build_model(jit_compile=False, steps_per_execution=4)
    assert model.steps_per_execution == 4
    assert model.jit_compile is False


def test_dropout_can_be_switched_off_for_lockstep_runs():
    model = build_model(dropout_rate=0.0)
    assert model.layers[2].get_config()["rate"] == 0.0
    assert model.count_params() == 118_282
