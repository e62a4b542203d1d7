"""The documented MLP as plain numbers, written once for the model, its FLOPs and its weights.

No keras here: the roofline and the numpy initial weights read these without a backend.
"""

import math

from digitrec_core.data import IMAGE_SHAPE, NUM_CLASSES

INPUT_SIZE = math.prod(IMAGE_SHAPE)  # the flattened image
HIDDEN_SIZES = (128, 128)
LAYER_SIZES = (INPUT_SIZE, *HIDDEN_SIZES, NUM_CLASSES)  # 784 → 128 → 128 → 10
DROPOUT_RATE = 0.25  # after the last hidden layer
OPTIMIZER = "adam"
LOSS = "categorical_crossentropy"
