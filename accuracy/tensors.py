"""One trained layer's real operands, for the RTL: what ``quidam simulate --tensors`` runs.

:func:`layer_tensors` runs a trained network's golden path
(:meth:`~quidam.accuracy.network.QuantizedNetwork.golden`) on one test image
and keeps, for one layer, the codes its MACs read: the activation codes of
the layer's input (the image after the host-side steps of the layers before
it) and the weight codes, both from :func:`quidam.formats.quantize` with the
layer's scales, plus the partial sums the golden convolution returns for them.
It checks that these sums, rescaled, are the layer's output on the golden
path, so the file holds exactly what hardware-exact inference computed.

The ``.npz`` (:func:`write_layer_tensors`): ``ifmap_codes`` ``(1, C, H, W)``
and ``weight_codes`` ``(M, C, R, S)`` as unsigned codes (two's-complement
patterns, LightPE codes, binary32 patterns), ``psums`` (the golden
convolution's result: int64, or uint32 binary32 patterns for fp32),
``activation_scale``, ``weight_scale``, and ``network``, ``dataset``,
``label``, ``layer``, ``image`` to say where they come from.
"""

from __future__ import annotations

import io
import os

import numpy as np
import torch

from quidam.formats.conv import conv2d_golden
from quidam.files import write_bytes
from quidam.formats.quantize import quantize

from .network import QuantizedNetwork, run

__all__ = ["layer_tensors", "write_layer_tensors"]


def layer_tensors(model: QuantizedNetwork, image: np.ndarray, index: int) -> dict[str, np.ndarray]:
    """The operands and partial sums of layer ``index`` when ``model`` classifies ``image`` ``(C, H, W)``.

    Raises
    ------
    RuntimeError
        If the operands do not reproduce the layer's output on the golden path.
    """
    captured = {}

    def conv(i, x):
        out = model._golden_conv(i, x)
        if i == index:
            captured.update(x=x, out=out)
        return out

    with torch.no_grad():
        run(model.steps, torch.from_numpy(np.asarray(image, dtype=np.float64)[None]), conv, model.biases)
    layer = model.network.layers[index]
    weights = quantize(model.weights[index].detach().numpy(), model.weight_format)
    activations = quantize(captured["x"].numpy(), model.activation_format,
                           scale=model.activation_scale(index, weights.integers()))
    psums = conv2d_golden(activations.codes, weights.codes, config=model.config, stride=layer.stride,
                          padding=layer.padding)
    values = psums.view(np.float32) if model.activation_format == "fp32" else psums
    if not torch.equal(torch.from_numpy(values.astype(np.float64)) * (activations.scale * weights.scale),
                       captured["out"]):
        raise RuntimeError(f"layer {index}: the exported operands do not reproduce the golden path's output")
    return {"ifmap_codes": activations.codes, "weight_codes": weights.codes, "psums": psums,
            "activation_scale": np.array(activations.scale), "weight_scale": np.array(weights.scale)}


def write_layer_tensors(model: QuantizedNetwork, image: np.ndarray, index: int, image_index: int,
                        path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Write :func:`layer_tensors` and where they come from to the ``.npz`` file ``path`` atomically."""
    arrays = {**layer_tensors(model, image, index), "network": np.array(model.network.name),
              "dataset": np.array(model.network.dataset), "label": np.array(model.label),
              "layer": np.array(index), "image": np.array(image_index)}
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    write_bytes(path, buffer.getvalue())
    return arrays
