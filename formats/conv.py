"""Golden 2-D convolution in the number format of each PE type, bit-exact to the hardware.

:func:`conv2d_golden` computes a whole layer's ofmap the way the accelerator's
MAC units would, written independently of the mapper and the RTL: every output
pixel is the reduction of its ``C * R * S`` activation x weight terms under the
MAC contract of the configured ``pe_type`` (see :mod:`quidam.formats.integer`,
:mod:`quidam.formats.lightpe`, :mod:`quidam.formats.fp32`). The tests check it
against PyTorch's ``conv2d`` on the CPU and against chains of the scalar golden
MACs.

Operands (``codes``), shapes ``(N, C, H, W)`` for the ifmap and ``(M, C, R, S)``
for the weights:

integer activations and weights (``int16``, ``int``; LightPE activations)
    A signed integer array holds the signed values (each in
    ``-2**(bits-1) .. 2**(bits-1) - 1``); an unsigned integer array holds the
    ``bits``-wide two's-complement bit patterns, as in
    :attr:`QuantizedTensor.codes <quidam.formats.QuantizedTensor>`.
LightPE weights
    The weight codes, ``0..15`` (``lightpe1``) or ``0..255`` (``lightpe2``).
``fp32``
    A ``float32`` array holds the values; a ``uint32`` array holds the
    binary32 bit patterns. No other dtype is accepted, so nothing is rounded
    on the way in.

Results, shape ``(N, M, E, F)``, as the psum port carries them:

integer PE types
    int64 signed partial sums wrapped to ``psum_bits`` two's complement, each
    in ``-2**(psum_bits-1) .. 2**(psum_bits-1) - 1`` (the port's bit pattern is
    ``result & (2**psum_bits - 1)``). The exact sum is formed in int64 and
    wrapped once at the end, which equals wrapping after every MAC because
    reduction modulo ``2**psum_bits`` commutes with addition; so the order of
    the terms does not matter.
``fp32``
    uint32 binary32 bit patterns (``.view(numpy.float32)`` for the values).
    The MAC is ``psum = rne(rne(a * w) + psum)``, unfused, so the result
    depends on the order of the terms: every output pixel starts from ``+0.0``
    and adds its terms in ``order``, a sequence of ``(c, r, s)`` triples
    (default: ``c`` outermost, then ``r``, then ``s``). Every NaN result is
    ``0x7FC00000``.

Zero padding: a padded ifmap position reads ``0`` (``+0.0`` for fp32). With
``padded_terms="include"`` (the default) its terms are accumulated like any
other; with ``"skip"`` they are left out. The results are the same for every
integer format, and for fp32 whenever the weights are finite: a padded term is
``+-0``, and a psum that starts at ``+0.0`` never becomes ``-0`` (``+0 + -0`` and
exact cancellations round to ``+0``), so adding ``+-0`` never changes it. Only
an infinite or NaN weight tells them apart: ``0 * inf`` is NaN, which
``"include"`` propagates and ``"skip"`` never forms.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple, Sequence

import numpy as np

from quidam.config import AcceleratorConfig
from quidam.errors import ConfigError

from .fp32 import FP32_QNAN
from .quantize import activation_format, decode, quantize, weight_format

if TYPE_CHECKING:
    from quidam.workloads import ConvLayer

__all__ = ["PADDED_TERMS", "LayerOperands", "conv2d_golden", "random_layer_operands"]

#: Accepted values of ``padded_terms``.
PADDED_TERMS = ("include", "skip")


def conv2d_golden(ifmap_codes, weight_codes, *, config: AcceleratorConfig, stride: int, padding: int,
                  order: Sequence[tuple[int, int, int]] | None = None,
                  padded_terms: str = "include",
                  groups: Sequence[Sequence[tuple[int, int, int]]] | None = None) -> np.ndarray:
    """The ofmap of one convolution layer, computed as the hardware's MAC units would.

    Parameters
    ----------
    ifmap_codes : array_like
        Activations, shape ``(N, C, H, W)``, in the configured activation format
        (see the module notes for the accepted dtypes and ranges).
    weight_codes : array_like
        Weights, shape ``(M, C, R, S)``, in the configured weight format.
    config : AcceleratorConfig
        Supplies ``pe_type``, ``act_bits``, ``wt_bits`` and ``psum_bits``.
    stride : int
        Stride in both dimensions, at least 1.
    padding : int
        Zero padding on every side, at least 0.
    order : sequence of (c, r, s), optional
        The order in which each output pixel accumulates its terms; it must
        list every triple of ``range(C) x range(R) x range(S)`` exactly once.
        Default ``c``-major, then ``r``, then ``s``. It decides the fp32
        result; integer results do not depend on it (it is still validated).
    padded_terms : {"include", "skip"}
        Whether terms that read a padded (zero) ifmap position are accumulated.
    groups : sequence of sequences of (c, r, s), optional
        Instead of ``order``: a reduction in partial sums, the accumulation
        structure of a PE array. Each group's terms are summed in order from
        the additive identity ``-0.0`` (one PE's partial sum), and the groups'
        sums are added in order, from ``-0.0`` (psums passed down a column and
        across passes). Together the groups list every term exactly once.
        Only fp32 results depend on it.

    Returns
    -------
    numpy.ndarray
        Shape ``(N, M, E, F)`` with ``E = (H + 2*padding - R) // stride + 1``
        (``F`` likewise): int64 signed psums wrapped to ``psum_bits`` for the
        integer PE types, uint32 binary32 patterns for fp32.

    Raises
    ------
    ConfigError
        For a wrong config, shapes, stride, padding, order, ``padded_terms``
        or operands outside their format (the message names the argument).
    """
    if not isinstance(config, AcceleratorConfig):
        raise ConfigError(f"config: must be an AcceleratorConfig, not {type(config).__name__}")
    for name, value, low in (("stride", stride, 1), ("padding", padding, 0)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < low:
            raise ConfigError(f"{name}: must be an integer >= {low}, not {value!r}")
    stride, padding = int(stride), int(padding)
    if padded_terms not in PADDED_TERMS:
        raise ConfigError(f"padded_terms: must be one of {', '.join(PADDED_TERMS)}, not {padded_terms!r}")

    ifmap = _four_dimensional(ifmap_codes, "ifmap_codes", "(N, C, H, W)")
    weights = _four_dimensional(weight_codes, "weight_codes", "(M, C, R, S)")
    _, C, H, W = ifmap.shape
    _, weight_channels, R, S = weights.shape
    if weight_channels != C:
        raise ConfigError(f"weight_codes: shape {weights.shape} has {weight_channels} input channels, "
                          f"but ifmap_codes {ifmap.shape} has C = {C}")
    if R > H + 2 * padding or S > W + 2 * padding:
        raise ConfigError(f"weight_codes: a {R}x{S} filter does not fit a {H}x{W} ifmap padded by {padding}")
    if not config.pe.is_float:
        _check_int64_bound(C * R * S, config)
    if groups is not None and order is not None:
        raise ConfigError("order and groups: give at most one of them")
    if groups is not None:
        groups = [list(group) for group in groups]
        terms = _reduction_order([term for group in groups for term in group], C, R, S)
        bounds = np.cumsum([0] + [len(group) for group in groups])
        groups = [terms[start:end] for start, end in zip(bounds[:-1], bounds[1:])]
    else:
        terms = _reduction_order(order, C, R, S)
    ifmap = _decode_activations(ifmap, config)
    weights = _decode_weights(weights, config)

    if config.pe.is_float and groups is not None:
        return _conv_fp32_grouped(ifmap, weights, stride, padding, groups, padded_terms == "skip")
    if config.pe.is_float:
        return _conv_fp32(ifmap, weights, stride, padding, terms, padded_terms == "skip")
    return _conv_integer(ifmap, weights, stride, padding, config)


class LayerOperands(NamedTuple):
    """Random operands of one layer: the codes :func:`conv2d_golden` reads and their values.

    Members
    -------
    ifmap_codes : numpy.ndarray
        Shape ``(N, C, H, W)``: signed int64 activations for the integer PE
        types, float32 for fp32.
    weight_codes : numpy.ndarray
        Shape ``(M, C, R, S)``: signed int64 weights for ``int16`` and
        ``int``, uint8 LightPE codes for ``lightpe1``/``lightpe2``, float32
        for fp32.
    ifmap_values, weight_values : numpy.ndarray
        float64 numbers the codes stand for: the decoded integer times the
        per-layer scale (the value itself for fp32).
    """

    ifmap_codes: np.ndarray
    weight_codes: np.ndarray
    ifmap_values: np.ndarray
    weight_values: np.ndarray


def random_layer_operands(layer: ConvLayer, config: AcceleratorConfig, rng, *, batch: int = 1) -> LayerOperands:
    """Realistic random ifmap and weights for ``layer`` in the configured number format.

    Activations are standard Gaussian, weights Gaussian with He scaling
    (variance ``2 / (C*R*S)``); both are quantized with
    :func:`~quidam.formats.quantize` and one per-layer scale each (for fp32
    they are rounded to float32, so never NaN or infinite).

    Parameters
    ----------
    layer : ConvLayer
        Supplies ``C, M, H, W, R, S``.
    config : AcceleratorConfig
        Supplies the activation and weight formats.
    rng : numpy.random.Generator or int
        Source of randomness or a seed.
    batch : int
        Number of images ``N``.

    Returns
    -------
    LayerOperands
        ``(ifmap_codes, weight_codes, ifmap_values, weight_values)``.
    """
    if not isinstance(config, AcceleratorConfig):
        raise ConfigError(f"config: must be an AcceleratorConfig, not {type(config).__name__}")
    if not isinstance(batch, int) or isinstance(batch, bool) or batch < 1:
        raise ConfigError(f"batch: must be a positive integer, not {batch!r}")
    rng = np.random.default_rng(rng)
    ifmap = rng.standard_normal((batch, layer.C, layer.H, layer.W))
    fan_in = layer.C * layer.R * layer.S
    weights = rng.standard_normal((layer.M, layer.C, layer.R, layer.S)) * np.sqrt(2.0 / fan_in)
    q_ifmap = quantize(ifmap, activation_format(config))
    q_weights = quantize(weights, weight_format(config))
    return LayerOperands(_operand_codes(q_ifmap), _operand_codes(q_weights), q_ifmap.values(), q_weights.values())


def _operand_codes(tensor) -> np.ndarray:
    """A quantized tensor as :func:`random_layer_operands` hands it out."""
    if tensor.fmt.startswith("lightpe"):
        return tensor.codes.copy()
    return tensor.integers()


def _decode_activations(array: np.ndarray, config: AcceleratorConfig) -> np.ndarray:
    if config.pe.is_float:
        return _fp32_operand(array, "ifmap_codes")
    return _integer_operand(array, config.act_bits, "ifmap_codes")


def _decode_weights(array: np.ndarray, config: AcceleratorConfig) -> np.ndarray:
    if config.pe.is_float:
        return _fp32_operand(array, "weight_codes")
    fmt = config.pe.weight_format
    if config.pe.weight_encoding is not None:   # a code of wt_bits bits (LightPE), every pattern a weight
        count = 1 << config.wt_bits
        if array.dtype.kind not in "iu":
            raise ConfigError(f"weight_codes: {fmt} weight codes must be an integer array, not dtype {array.dtype}")
        if not (int(array.min()) >= 0 and int(array.max()) < count):
            raise ConfigError(f"weight_codes: {fmt} weight codes must be in 0..{count - 1}, "
                              f"found {int(array.min())}..{int(array.max())}")
        return decode(array, fmt)
    return _integer_operand(array, config.wt_bits, "weight_codes")


def _four_dimensional(codes, name: str, axes: str) -> np.ndarray:
    array = np.asarray(codes)
    if array.ndim != 4:
        raise ConfigError(f"{name}: must be a 4-dimensional array {axes}, not shape {array.shape}")
    if 0 in array.shape:
        raise ConfigError(f"{name}: every dimension of {axes} must be at least 1, not shape {array.shape}")
    return array


def _integer_operand(array: np.ndarray, bits: int, name: str) -> np.ndarray:
    """Signed int64 values of signed integers or of unsigned two's-complement patterns."""
    if array.dtype.kind == "u":
        if int(array.max()) >> bits:
            raise ConfigError(f"{name}: unsigned {bits}-bit patterns must be in 0..{(1 << bits) - 1}, "
                              f"found up to {int(array.max())}")
        return decode(array, f"int{bits}")
    if array.dtype.kind != "i":
        raise ConfigError(f"{name}: {bits}-bit integer operands must be an integer array, not dtype {array.dtype}")
    low, high = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    if int(array.min()) < low or int(array.max()) > high:
        raise ConfigError(f"{name}: signed {bits}-bit values must be in {low}..{high}, "
                          f"found {int(array.min())}..{int(array.max())}")
    return array.astype(np.int64)


def _fp32_operand(array: np.ndarray, name: str) -> np.ndarray:
    if array.dtype == np.uint32:
        return array.view(np.float32)
    if array.dtype != np.float32:
        raise ConfigError(f"{name}: fp32 operands must be a float32 (values) or uint32 (bit patterns) array, "
                          f"not dtype {array.dtype}; round explicitly with .astype(numpy.float32)")
    return array


def _reduction_order(order, C: int, R: int, S: int) -> np.ndarray:
    """The ``(c, r, s)`` terms in accumulation order, as a ``(C*R*S, 3)`` int64 array."""
    if order is None:
        c, r, s = np.meshgrid(np.arange(C), np.arange(R), np.arange(S), indexing="ij")
        return np.stack([c.ravel(), r.ravel(), s.ravel()], axis=1)
    count = C * R * S
    what = f"every (c, r, s) term exactly once: {count} terms for C={C}, R={R}, S={S}"
    try:
        terms = np.asarray(list(order))
    except (TypeError, ValueError):
        raise ConfigError(f"order: must be a sequence of integer (c, r, s) triples listing {what}") from None
    if terms.ndim != 2 or terms.shape[1] != 3 or terms.dtype.kind not in "iu":
        raise ConfigError(f"order: must be a sequence of integer (c, r, s) triples listing {what}")
    if len(terms) != count:
        raise ConfigError(f"order: must list {what}, not {len(terms)}")
    terms = terms.astype(np.int64)
    bad = np.flatnonzero(np.any((terms < 0) | (terms >= (C, R, S)), axis=1))
    if bad.size:
        raise ConfigError(f"order: term {tuple(int(x) for x in terms[bad[0]])} at position {int(bad[0])} "
                          f"is outside C={C}, R={R}, S={S}")
    flat = (terms[:, 0] * R + terms[:, 1]) * S + terms[:, 2]
    _, first, seen = np.unique(flat, return_index=True, return_counts=True)
    if np.any(seen > 1):
        twice = terms[first[np.argmax(seen > 1)]]
        raise ConfigError(f"order: term {tuple(int(x) for x in twice)} appears more than once; it must list {what}")
    return terms


def _check_int64_bound(terms: int, config: AcceleratorConfig) -> None:
    """Refuse a reduction whose exact sum could leave int64 (only with billions of terms)."""
    # |a*w| <= 2**(product_bits - 2): both factors' magnitudes are at most half their signed range.
    bound = terms << (config.pe.product_bits(config.act_bits, config.wt_bits) - 2)
    if bound >= 1 << 63:
        raise ConfigError(f"weight_codes: C*R*S = {terms} terms of {config.act_bits}-bit activations could "
                          f"overflow the exact int64 sum (bound {bound}); split the channels into groups")


def _window(padded: np.ndarray, r: int, s: int, stride: int, E: int, F: int) -> np.ndarray:
    """The ifmap positions that filter tap ``(r, s)`` reads for every output pixel: ``(..., E, F)``."""
    return padded[..., r:r + stride * (E - 1) + 1:stride, s:s + stride * (F - 1) + 1:stride]


def _output_size(ifmap: np.ndarray, weights: np.ndarray, stride: int, padding: int) -> tuple[int, int]:
    H, W = ifmap.shape[2:]
    R, S = weights.shape[2:]
    return (H + 2 * padding - R) // stride + 1, (W + 2 * padding - S) // stride + 1


def _conv_integer(ifmap: np.ndarray, weights: np.ndarray, stride: int, padding: int,
                  config: AcceleratorConfig) -> np.ndarray:
    """Exact int64 sums of products, wrapped once to ``psum_bits`` two's complement."""
    N = ifmap.shape[0]
    M, _, R, S = weights.shape
    E, F = _output_size(ifmap, weights, stride, padding)
    padded = np.pad(ifmap, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    total = np.zeros((M, N, E, F), dtype=np.int64)
    for r in range(R):
        for s in range(S):
            total += np.tensordot(weights[:, :, r, s], _window(padded, r, s, stride, E, F), axes=([1], [1]))
    total = total.transpose(1, 0, 2, 3)
    if config.psum_bits == 64:
        return np.ascontiguousarray(total)
    half = 1 << (config.psum_bits - 1)
    low_bits = total & ((1 << config.psum_bits) - 1)
    return np.where(low_bits >= half, low_bits - half - half, low_bits)


def _conv_fp32(ifmap: np.ndarray, weights: np.ndarray, stride: int, padding: int, terms: np.ndarray,
               skip_padded: bool, start: np.float32 = np.float32(0.0)) -> np.ndarray:
    """Sequential ``psum = rne(rne(a * w) + psum)`` per output pixel, vectorized over (N, M, E, F).

    numpy float32 multiplication and addition round to nearest even with
    gradual underflow, term for term the binary32 MAC contract.
    """
    N, _, H, W = ifmap.shape
    M = weights.shape[0]
    E, F = _output_size(ifmap, weights, stride, padding)
    padded = np.pad(ifmap, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    inside = np.pad(np.ones((H, W), dtype=bool), padding)
    psum = np.full((N, M, E, F), start, dtype=np.float32)
    with np.errstate(all="ignore"):
        for c, r, s in terms.tolist():
            product = _window(padded[:, c], r, s, stride, E, F)[:, None] * weights[:, c, r, s][None, :, None, None]
            if skip_padded:
                psum = np.where(_window(inside, r, s, stride, E, F), psum + product, psum)
            else:
                psum += product
    bits = psum.view(np.uint32).copy()
    bits[np.isnan(psum)] = FP32_QNAN
    return bits


def _conv_fp32_grouped(ifmap: np.ndarray, weights: np.ndarray, stride: int, padding: int, groups: list,
                       skip_padded: bool) -> np.ndarray:
    """fp32 in partial sums: each group from ``-0.0``, then the groups' sums in order from ``-0.0``."""
    negative_zero = np.float32(-0.0)
    total = None
    with np.errstate(all="ignore"):
        for group in groups:
            bits = _conv_fp32(ifmap, weights, stride, padding, group, skip_padded, start=negative_zero)
            partial = bits.view(np.float32)
            total = partial if total is None else total + partial
    bits = total.view(np.uint32).copy()
    bits[np.isnan(total)] = FP32_QNAN
    return bits
