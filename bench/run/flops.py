"""Each layer of a keras model as the roofline counts it (bench.run.roofline.LayerWork)."""

import math

import keras

from bench.run.roofline import LayerWork, training_flops_per_sample

FREE = LayerWork("free")
UNKNOWN = LayerWork("unknown")


def layer_work(layer: keras.layers.Layer) -> LayerWork:
    """The forward multiply-adds per sample of a Dense or Conv2D layer, from its shapes."""
    if not layer.weights:
        return FREE
    if isinstance(layer, keras.layers.Dense):
        positions = math.prod(layer.input.shape[1:-1])  # 1 for the usual (batch, features)
        return LayerWork("gemm", positions * layer.input.shape[-1] * layer.units)
    if isinstance(layer, keras.layers.Conv2D) and layer.data_format == "channels_last":
        height, width, filters = layer.output.shape[1:]
        kernel_h, kernel_w, in_per_group, _ = layer.kernel.shape
        return LayerWork("gemm", height * width * filters * kernel_h * kernel_w * in_per_group)
    return UNKNOWN


def model_training_flops_per_sample(model: keras.Model) -> int | None:
    """Training FLOPs per sample of `model` (FLOPS_FORMULA), None if a layer is not countable."""
    return training_flops_per_sample([layer_work(layer) for layer in model.layers])
