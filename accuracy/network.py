"""A workload's layer table as a trainable network in one PE format, and its hardware-exact twin.

The network is built from the layer table of :mod:`quidam.workloads` itself,
so the layers trained are the layers the exploration maps (same ``C, M, H, W,
R, S``, stride, padding; fully connected layers are 1x1 convolutions on a 1x1
map). Every layer has a weight tensor and a bias; :func:`program` reads the
order of operations off the table:

* a layer ``sXbY_conv1`` starts a basic residual block: ``conv1``, ReLU,
  ``conv2``, plus the block input (or its ``sXbY_shortcut`` projection when the
  table has one), ReLU (He et al.);
* any other convolution is followed by ReLU; a 2x2 (k x k) max pool comes
  before a layer whose input is smaller than the map so far (VGG);
* before the first fully connected layer a residual network averages the map
  globally (ResNet), a plain one max-pools it to the size the layer reads
  and flattens it (VGG); no ReLU after the last layer (the logits).

:func:`run` executes a program: it is the one place where the **host-side
steps between layers** are written (bias add, ReLU, max pool, residual add,
global average pool, flatten, all on float tensors). Each convolution is a
callback, so the same steps run around two convolutions:

* :meth:`QuantizedNetwork.forward`, the PyTorch fake-quant model of training:
  the layer's input is quantized to the activation format with the layer's
  calibrated scale, the weights to the weight format with their own per-layer
  scale (:func:`~quidam.accuracy.quantizers.fake_quantize`), the integers are
  convolved with ``torch.nn.functional.conv2d`` and the sums rescaled by
  ``activation scale * weight scale``;
* :meth:`QuantizedNetwork.golden`, the accelerator's contract: the same
  quantization through :func:`quidam.formats.quantize` gives the codes the
  MACs read, :func:`quidam.formats.conv2d_golden` the partial sums they
  return (wrapped to ``psum_bits``), rescaled by the same product.

The rescaling *to the next layer's format* is the next convolution's
activation quantization, so every layer boundary passes through
:func:`quidam.formats.quantize` once. In float64, a convolution of integers
is exact (every sum stays far below 2**53), so for the integer formats the two
paths give bit-identical logits unless a partial sum wraps in the hardware;
for fp32 they differ by the rounding of the sums (the golden MAC rounds each
product and each addition to binary32 in order, PyTorch sums in float64).

Activation scales are calibrated during training: each layer keeps an
exponential moving average (momentum :data:`PEAK_MOMENTUM`) of the largest
magnitude of its input, and its scale maps that peak to the largest
activation code, or to the largest code that leaves the accumulator enough
headroom (:func:`headroom`), whichever is smaller: an input within the peak
can then never make a partial sum wrap. Values beyond the peak saturate
(:func:`quidam.formats.quantize` with a given scale).
"""

from __future__ import annotations

import math
import re

import numpy as np
import torch
import torch.nn.functional as F

from quidam.formats.conv import conv2d_golden
from quidam.formats.quantize import quantize
from quidam.workloads.networks import Network

from .quantizers import fake_quantize, formats, pe_config, saturation

__all__ = ["PEAK_MOMENTUM", "QuantizedNetwork", "headroom", "program", "run"]

#: Weight of the running peak in each update of a layer's activation peak during training.
PEAK_MOMENTUM = 0.9

_BLOCK = re.compile(r"(s\d+b\d+)_conv1")


def program(network: Network) -> tuple[tuple, ...]:
    """The operations of ``network`` in order: ``("conv", i)``, ``("relu",)``, ``("maxpool", k)``,
    ``("block", conv1, conv2, shortcut or None)``, ``("avgpool",)``, ``("flatten",)``."""
    layers = network.layers
    names = [layer.name for layer in layers]
    residual = any(_BLOCK.fullmatch(name) for name in names)
    steps: list[tuple] = []
    channels, size = layers[0].C, layers[0].H
    index = 0
    while index < len(layers):
        layer = layers[index]
        block = _BLOCK.fullmatch(layer.name)
        if block:
            shortcut = f"{block.group(1)}_shortcut"
            projection = names.index(shortcut) if shortcut in names else None
            steps.append(("block", index, index + 1, projection))
            channels, size = layers[index + 1].M, layers[index + 1].E
            index = max(index + 1, projection or 0) + 1
            continue
        fully_connected = layer.H == 1 and layer.R == 1 and (size > 1 or channels != layer.C)
        if fully_connected and residual and size > 1:
            steps.append(("avgpool",))
            size = 1
        elif fully_connected:
            side = math.isqrt(layer.C // channels)
            if side < size:
                steps.append(("maxpool", size // side))
            size = 1
        elif layer.H < size:
            steps.append(("maxpool", size // layer.H))
        if fully_connected:
            steps.append(("flatten",))
        steps.append(("conv", index))
        if index < len(layers) - 1:
            steps.append(("relu",))
        channels, size = layer.M, layer.E
        index += 1
    return tuple(steps)


def run(steps, x: torch.Tensor, conv, biases) -> torch.Tensor:
    """Execute ``steps`` on ``x``: the host-side operations, with ``conv(i, x)`` for every convolution.

    Parameters
    ----------
    steps : tuple
        From :func:`program`.
    x : torch.Tensor
        Input images ``(N, C, H, W)``.
    conv : callable
        ``conv(i, x)`` -> layer ``i``'s output before its bias (dequantized partial sums).
    biases : sequence of torch.Tensor
        Per-layer biases, added on the host.
    """
    def layer(i, inputs):
        return conv(i, inputs) + biases[i].to(inputs.dtype).view(1, -1, 1, 1)

    for step in steps:
        kind = step[0]
        if kind == "conv":
            x = layer(step[1], x)
        elif kind == "relu":
            x = F.relu(x)
        elif kind == "maxpool":
            x = F.max_pool2d(x, step[1])
        elif kind == "avgpool":
            x = x.mean(dim=(2, 3), keepdim=True)
        elif kind == "flatten":
            x = x.reshape(x.shape[0], -1, 1, 1)
        else:  # a residual basic block
            _, first, second, shortcut = step
            branch = layer(second, F.relu(layer(first, x)))
            x = F.relu(branch + (x if shortcut is None else layer(shortcut, x)))
    return x.reshape(x.shape[0], -1)


def headroom(weights: np.ndarray, activation_format: str, psum_bits: int) -> int:
    """The largest activation code a layer may use so that no partial sum can wrap.

    With activation codes of magnitude at most ``a``, an output's partial sum
    is at most ``a * sum|w|`` over its filter; the result is the format's
    largest code (:func:`~quidam.accuracy.quantizers.saturation`), lowered to
    ``(2**(psum_bits-1) - 1) // max_m sum|w[m]|`` where that is smaller (at
    least 1). Only accumulators narrow for their layer bind: int16's 32 bits
    on filters of hundreds of 16-bit weights.
    """
    largest = int(saturation(activation_format))
    worst = int(np.abs(np.asarray(weights, dtype=np.int64)).reshape(len(weights), -1).sum(axis=1).max())
    if worst == 0:
        return largest
    return max(1, min(largest, ((1 << (psum_bits - 1)) - 1) // worst))


def _rescale(sums: torch.Tensor, activation_scale: float, weight_scale: float) -> torch.Tensor:
    """Partial sums of integers back to real values: one multiplication by the product of the scales."""
    return sums * (activation_scale * weight_scale)


class QuantizedNetwork(torch.nn.Module):
    """A network of :mod:`quidam.workloads` trained in the PE format ``label``.

    Parameters
    ----------
    network : Network
        The layer table.
    label : str
        Format label (:func:`~quidam.accuracy.quantizers.pe_config`).

    Members
    -------
    weights, biases : torch.nn.ParameterList
        float32 ``(M, C, R, S)`` and ``(M,)`` per layer.
    peaks : torch.Tensor
        float64 calibrated peak ``max|input|`` of each layer (0 until trained).
    """

    def __init__(self, network: Network, label: str):
        super().__init__()
        self.network, self.label = network, label
        self.config = pe_config(label)
        self.activation_format, self.weight_format = formats(label)
        self.steps = program(network)
        self.weights = torch.nn.ParameterList()
        self.biases = torch.nn.ParameterList()
        for layer in network.layers:
            weight = torch.empty(layer.M, layer.C, layer.R, layer.S)
            torch.nn.init.kaiming_normal_(weight, nonlinearity="relu")
            self.weights.append(torch.nn.Parameter(weight))
            self.biases.append(torch.nn.Parameter(torch.zeros(layer.M)))
        self.register_buffer("peaks", torch.zeros(len(network.layers), dtype=torch.float64))

    def activation_scale(self, i: int, weights: np.ndarray, x: torch.Tensor | None = None) -> float | None:
        """Layer ``i``'s activation scale (``None`` for fp32); in training, first update its peak from ``x``.

        ``weights`` are the layer's weight integers (``decode`` of its codes):
        the peak maps to the largest activation code that cannot make a
        partial sum wrap (see :func:`headroom`).
        """
        if self.activation_format == "fp32":
            return None
        if self.training and x is not None:
            with torch.no_grad():
                peak = float(x.detach().abs().max())
                old = float(self.peaks[i])
                self.peaks[i] = peak if old == 0 else PEAK_MOMENTUM * old + (1 - PEAK_MOMENTUM) * peak
        peak = float(self.peaks[i])
        return peak / headroom(weights, self.activation_format, self.config.psum_bits) if peak > 0 else 1.0

    def _fake_conv(self, i: int, x: torch.Tensor) -> torch.Tensor:
        layer = self.network.layers[i]
        weights, weight_scale = fake_quantize(self.weights[i].to(x.dtype), self.weight_format)
        scale = self.activation_scale(i, weights.detach().numpy(), x)
        activations, activation_scale = fake_quantize(x, self.activation_format, scale)
        sums = F.conv2d(activations, weights, stride=layer.stride, padding=layer.padding)
        return _rescale(sums, activation_scale, weight_scale)

    def _golden_conv(self, i: int, x: torch.Tensor) -> torch.Tensor:
        layer = self.network.layers[i]
        weights = quantize(self.weights[i].detach().numpy(), self.weight_format)
        scale = self.activation_scale(i, weights.integers())
        activations = quantize(x.numpy(), self.activation_format, scale=scale)
        sums = conv2d_golden(activations.codes, weights.codes, config=self.config, stride=layer.stride,
                             padding=layer.padding)
        if self.activation_format == "fp32":
            sums = sums.view(np.float32)
        return _rescale(torch.from_numpy(sums.astype(np.float64)), activations.scale, weights.scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of the fake-quant model (in ``x``'s dtype: float32 to train, float64 to compare)."""
        return run(self.steps, x, self._fake_conv, self.biases)

    @torch.no_grad()
    def golden(self, x: torch.Tensor) -> torch.Tensor:
        """float64 logits computed through the golden convolution of the PE type (eval mode)."""
        if self.training:
            raise RuntimeError("golden() evaluates the trained network: call eval() first")
        return run(self.steps, x.to(torch.float64), self._golden_conv, self.biases)
