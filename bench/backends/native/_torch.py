"""torch's native reference: an `nn.Module`, `torch.optim.Adam` and a plain loop; `torch.compile`
of the module is the compiled variant."""

import itertools
from typing import Any

import numpy as np
import torch
from torch import nn

from bench.backends import native
from bench.backends.native import PROBABILITY_EPSILON, AdamSettings, MlpSpec


class Mlp(nn.Module):
    """Dense ReLU layers, dropout after the last hidden one, a softmax output."""

    def __init__(self, spec: MlpSpec) -> None:
        super().__init__()
        sizes = spec.layer_sizes
        self.hidden = nn.ModuleList(
            nn.Linear(fan_in, fan_out) for fan_in, fan_out in itertools.pairwise(sizes[:-1])
        )
        self.dropout = nn.Dropout(spec.dropout_rate)
        self.output = nn.Linear(sizes[-2], sizes[-1])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.hidden:
            x = torch.relu(layer(x))
        return torch.softmax(self.output(self.dropout(x)), dim=-1)


def crossentropy(probabilities: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Keras's categorical cross-entropy on probabilities, per sample."""
    p = probabilities / probabilities.sum(dim=-1, keepdim=True)
    p = p.clamp(PROBABILITY_EPSILON, 1 - PROBABILITY_EPSILON)
    return -(y * p.log()).sum(dim=-1)


class KerasAdam(torch.optim.Optimizer):
    """Keras's Adam written out: ε before the bias correction (bench.backends.native)."""

    def __init__(self, params, adam: AdamSettings) -> None:
        super().__init__(params, {"lr": adam.learning_rate})
        self.adam, self.iterations = adam, 0

    @torch.no_grad()
    def step(self, closure=None):
        self.iterations += 1
        adam = self.adam
        alpha = native.bias_corrected_rate(
            adam.learning_rate, self.iterations, adam.beta_1, adam.beta_2
        )
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state["momentum"], state["velocity"] = torch.zeros_like(p), torch.zeros_like(p)
                m, v = state["momentum"], state["velocity"]
                m.add_((p.grad - m) * (1 - adam.beta_1))
                v.add_((p.grad.square() - v) * (1 - adam.beta_2))
                p.sub_(m * alpha / (v.sqrt() + adam.epsilon))


def keras_layout(parameter: torch.Tensor) -> np.ndarray:
    """A parameter as Keras holds it: a Linear weight (out, in) becomes a kernel (in, out)."""
    value = parameter.detach().cpu().numpy()
    return value.T.copy() if value.ndim == 2 else value.copy()


def torch_layout(value: np.ndarray, like: torch.Tensor) -> torch.Tensor:
    value = np.asarray(value, dtype=np.float32)
    return torch.from_numpy(value.T.copy() if value.ndim == 2 else value.copy()).to(like.device)


class Trainer:
    """The MLP, its loss and optimizer, trained in a plain loop (bench.backends.native.Trainer)."""

    def __init__(
        self,
        spec: MlpSpec,
        weights: list[np.ndarray],
        *,
        adam: AdamSettings,
        rule: str = "idiomatic",
        variant: str = "eager",
        seed: int = 0,
    ) -> None:
        torch.manual_seed(seed)  # dropout masks
        self.device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        self.model = Mlp(spec).to(self.device)
        self.parameters = list(self.model.parameters())  # Keras's order: kernel, bias per layer
        self.load_weights(weights)
        self.rule, self.variant, self.adam = rule, variant, adam
        if rule == "idiomatic":
            self.optimizer = torch.optim.Adam(
                self.parameters,
                lr=adam.learning_rate,
                betas=(adam.beta_1, adam.beta_2),
                eps=adam.epsilon,
            )
        else:
            self.optimizer = KerasAdam(self.parameters, adam)
        self.forward = torch.compile(self.model) if variant == "compiled" else self.model
        self._tensors: tuple[int, torch.Tensor, torch.Tensor] | None = None

    def describe(self) -> dict[str, Any]:
        compiled = self.variant == "compiled"
        return {
            "variant": self.variant,
            "description": "torch nn.Module"
            + (" under torch.compile" if compiled else "")
            + ", a plain training loop",
            "optimizer": "torch.optim.Adam"
            if self.rule == "idiomatic"
            else "Keras's Adam written out in torch",
        }

    def on_device(self, x: np.ndarray, y: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """The arrays as tensors on the device, made once per array."""
        if self._tensors is None or self._tensors[0] != id(x):
            self._tensors = (
                id(x),
                torch.from_numpy(x).to(self.device),
                torch.from_numpy(y).to(self.device),
            )
        return self._tensors[1], self._tensors[2]

    def train_step(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        self.optimizer.zero_grad(set_to_none=True)
        probabilities = self.forward(x)
        loss = crossentropy(probabilities, y).mean()
        loss.backward()
        self.optimizer.step()
        correct = (probabilities.argmax(dim=-1) == y.argmax(dim=-1)).sum()
        return loss.detach(), correct

    def fit_epoch(self, x: np.ndarray, y: np.ndarray, batches: list[np.ndarray]) -> dict:
        self.model.train()
        x_all, y_all = self.on_device(x, y)
        losses, correct = [], []
        for batch in batches:
            index = torch.from_numpy(batch).to(self.device)
            loss, right = self.train_step(x_all[index], y_all[index])
            losses.append(loss)
            correct.append(right)
        return native.epoch_summary(
            torch.stack(losses).cpu().numpy(), torch.stack(correct).cpu().numpy(), batches
        )

    @torch.no_grad()
    def predict(self, x: np.ndarray, batch_size: int) -> np.ndarray:
        self.model.eval()
        found = [
            self.forward(torch.from_numpy(x[start : start + batch_size]).to(self.device))
            for start in range(0, len(x), batch_size)
        ]
        return torch.cat(found).cpu().numpy()

    def synchronize(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize()

    def parameter_count(self) -> int:
        return sum(p.numel() for p in self.parameters)

    # --- the Stepper side (bench.parity.native_steps) ---------------------------------------

    def load_weights(self, weights: list[np.ndarray]) -> None:
        with torch.no_grad():
            for parameter, value in zip(self.parameters, weights, strict=True):
                parameter.copy_(torch_layout(value, parameter))

    def weights(self) -> list[np.ndarray]:
        return [keras_layout(p) for p in self.parameters]

    def slots(self) -> list[np.ndarray]:
        """The "keras-adam" state in Keras's `optimizer.variables` order."""
        found = [np.int64(self.optimizer.iterations), np.float32(self.adam.learning_rate)]
        for p in self.parameters:
            state = self.optimizer.state[p] or {"momentum": p * 0, "velocity": p * 0}
            found += [keras_layout(state["momentum"]), keras_layout(state["velocity"])]
        return found

    def load_slots(self, slots: list[np.ndarray]) -> None:
        self.optimizer.iterations = int(slots[0])
        moments = iter(slots[2:])
        for p in self.parameters:
            self.optimizer.state[p] = {
                "momentum": torch_layout(next(moments), p),
                "velocity": torch_layout(next(moments), p),
            }

    def loss_and_gradients(self, x: np.ndarray, y: np.ndarray) -> tuple[float, list[np.ndarray]]:
        self.model.train()
        x_t, y_t = (torch.from_numpy(a).to(self.device) for a in (x, y))
        loss = crossentropy(self.forward(x_t), y_t).mean()
        gradients = torch.autograd.grad(loss, self.parameters)
        return float(loss.detach()), [keras_layout(g) for g in gradients]

    def step_on(self, x: np.ndarray, y: np.ndarray) -> None:
        self.model.train()
        self.train_step(*(torch.from_numpy(a).to(self.device) for a in (x, y)))
