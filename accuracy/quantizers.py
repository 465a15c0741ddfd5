"""The PE formats a network is trained in, and the fake-quantizer of quantization-aware training.

A *format label* names the number formats of one PE type:

``fp32``, ``int16``, ``lightpe1``, ``lightpe2``
    the seed PE types;
``int<A>x<W>``
    the ``int`` PE type with ``act_bits = A`` and ``wt_bits = W``, each in
    2..16 (``int8x8``, ``int4x4``, ``int2x2``, ``int8x4``, ...).

:func:`pe_config` turns a label into the :class:`~quidam.config.AcceleratorConfig`
whose :func:`~quidam.formats.quantize.activation_format` and
:func:`~quidam.formats.quantize.weight_format` give the formats of the
activations and the weights, so a label means exactly what the hardware of
that PE type reads.

:func:`fake_quantize` is the forward pass of every quantized tensor in
training. It *calls* :func:`quidam.formats.quantize` (per-layer scale, the
same rounding, clipping and exponent range: the definitions are not written a
second time) and returns the integers the codes stand for, so a convolution
of them is the hardware's integer sum of products. The backward pass is the
straight-through estimator: ``d integers / d x = 1 / scale`` where ``x /
scale`` lies within the format's largest magnitude, 0 where it saturates.
"""

from __future__ import annotations

import functools
import re

import numpy as np
import torch

from quidam.config import AcceleratorConfig
from quidam.errors import ConfigError
from quidam.formats.quantize import activation_format, quantize, weight_format

__all__ = ["DEFAULT_LABELS", "SEED_LABELS", "fake_quantize", "formats", "parse_labels", "pe_config", "saturation"]

#: The seed PE types, each a format label of its own.
SEED_LABELS = ("fp32", "int16", "lightpe1", "lightpe2")
#: The formats ``--pe all`` trains: the seed types and the int type at 8x8, 4x4 and 2x2 bits.
DEFAULT_LABELS = (*SEED_LABELS, "int8x8", "int4x4", "int2x2")

_INT_LABEL = re.compile(r"int([0-9]+)x([0-9]+)")
# The largest value any format saturates at is far below this; quantizing it with scale 1 gives the top code.
_HUGE = 1e30


def pe_config(label: str) -> AcceleratorConfig:
    """The accelerator configuration (default array) of the PE type that format ``label`` names.

    Raises
    ------
    ConfigError
        For a label that is none of those in the module notes.
    """
    if label in SEED_LABELS:
        return AcceleratorConfig(pe_type=label)
    match = _INT_LABEL.fullmatch(label) if isinstance(label, str) else None
    if match:
        try:
            return AcceleratorConfig(pe_type="int", act_bits=int(match.group(1)), wt_bits=int(match.group(2)))
        except ConfigError:
            pass
    raise ConfigError(f"--pe: unknown format {label!r}; allowed: all, {', '.join(SEED_LABELS)} or "
                      f"int<A>x<W> with A and W in 2..16 (e.g. int8x8)")


def parse_labels(value: str) -> tuple[str, ...]:
    """``all`` or a comma-separated list of format labels, validated; ``all`` is :data:`DEFAULT_LABELS`."""
    if value.strip() == "all":
        return DEFAULT_LABELS
    labels = tuple(dict.fromkeys(part.strip() for part in value.split(",") if part.strip()))
    if not labels:
        raise ConfigError("--pe: give all or a comma-separated list of formats (fp32, int16, lightpe1, ...)")
    for label in labels:
        pe_config(label)
    return labels


def formats(label: str) -> tuple[str, str]:
    """``(activation format, weight format)`` of ``label``, as :mod:`quidam.formats.quantize` names them."""
    config = pe_config(label)
    return activation_format(config), weight_format(config)


@functools.lru_cache(maxsize=None)
def saturation(fmt: str) -> float:
    """The largest magnitude a code of ``fmt`` stands for (before scaling): where quantizing saturates."""
    return float(np.abs(quantize(np.array([_HUGE]), fmt, scale=1.0).integers()[0]))


class _StraightThrough(torch.autograd.Function):
    """Forward: the given integers; backward: ``1 / scale`` inside the format's range, 0 outside."""

    @staticmethod
    def forward(ctx, x, integers, scale, limit):
        ctx.save_for_backward(x)
        ctx.scale, ctx.limit = scale, limit
        return integers

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        inside = (x / ctx.scale).abs() <= ctx.limit
        return grad * inside / ctx.scale, None, None, None


def fake_quantize(x: torch.Tensor, fmt: str, scale: float | None = None) -> tuple[torch.Tensor, float]:
    """Quantize ``x`` with :func:`quidam.formats.quantize`; the integers as a tensor, differentiable.

    Parameters
    ----------
    x : torch.Tensor
        Float values of one layer's weights or activations (CPU).
    fmt : str
        ``"int<N>"``, ``"lightpe1"``, ``"lightpe2"`` or ``"fp32"``.
    scale : float, optional
        A calibrated per-layer scale; default the quantizer's own (``max|x|`` to the top code).

    Returns
    -------
    integers : torch.Tensor
        What each code stands for (``decode(codes)``: integers, or the binary32
        values for ``fp32``), in ``x``'s dtype; ``integers * scale`` are the
        quantized values.
    scale : float
        The per-layer scale used (1 for ``fp32``).
    """
    q = quantize(x.detach().double().numpy(), fmt, scale=scale)
    integers = torch.from_numpy(q.integers().astype(np.float64)).to(x.dtype)
    if fmt == "fp32":
        return _StraightThrough.apply(x, integers, 1.0, np.inf), 1.0
    return _StraightThrough.apply(x, integers, q.scale, saturation(fmt)), q.scale
