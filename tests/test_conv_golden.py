"""The golden convolution against PyTorch's conv2d on the CPU and against chained scalar MACs.

Integer formats must equal the exact convolution (torch int64, cross-checked
in float64) wrapped to ``psum_bits``; fp32 must stay within the rigorous error
bound of sequential float32 summation from torch's float64 result, and equal,
bit for bit, a chain of the exact-rational :func:`fp32_mac_bits` in the same
order. Operand decoding here is written out again, not taken from quidam.
"""

import zlib

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from quidam.config import AcceleratorConfig
from quidam.errors import ConfigError
from quidam.formats import FP32_QNAN, conv2d_golden, fp32_mac_bits, random_layer_operands
from quidam.workloads import ConvLayer, get_network

CONFIGS = {
    "int16": AcceleratorConfig(pe_type="int16"),
    "int8x8": AcceleratorConfig(pe_type="int", act_bits=8, wt_bits=8),
    "int4x4": AcceleratorConfig(pe_type="int", act_bits=4, wt_bits=4),
    "int8x4": AcceleratorConfig(pe_type="int", act_bits=8, wt_bits=4),
    "lightpe1": AcceleratorConfig(pe_type="lightpe1"),
    "lightpe2": AcceleratorConfig(pe_type="lightpe2"),
}
FP32 = AcceleratorConfig(pe_type="fp32")

_RESNET20 = get_network("resnet20")
LAYERS = [
    ConvLayer("3x3_pad1_batch2", C=3, M=4, H=8, W=8, R=3, S=3, stride=1, padding=1),
    ConvLayer("3x3_stride2_pad0_remainder", C=4, M=3, H=10, W=9, R=3, S=3, stride=2, padding=0),
    ConvLayer("7x7_stride2_pad3", C=2, M=3, H=12, W=12, R=7, S=7, stride=2, padding=3),
    ConvLayer("1x1_M1", C=5, M=1, H=6, W=6, R=1, S=1),
    ConvLayer("C1_rectangular", C=1, M=3, H=5, W=7, R=2, S=3, padding=1),
    _RESNET20.layer(7).scaled(0.25),   # s2b1_conv1: 3x3, stride 2, padding 1
    _RESNET20.layer(9).scaled(0.25),   # s2b1_shortcut: 1x1, stride 2
]
LAYER_IDS = [layer.name for layer in LAYERS]


def _rng(*key):
    """A generator seeded by the test's parameters (stable across processes, unlike hash())."""
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


def _batch(layer):
    return 2 if layer.name.endswith("batch2") else 1


def _torch_conv(ifmap, weights, layer, dtype):
    ifmap, weights = (torch.from_numpy(np.asarray(x, dtype=dtype)) for x in (ifmap, weights))
    return F.conv2d(ifmap, weights, stride=layer.stride, padding=layer.padding).numpy()


def _signed(patterns, bits):
    patterns = np.asarray(patterns, dtype=np.int64)
    return np.where(patterns >= 1 << (bits - 1), patterns - (1 << bits), patterns)


def _lightpe_term(code):
    magnitude = np.left_shift(1, code & 7)
    return np.where(code & 8, -magnitude, magnitude)


def _weight_integers(codes, config):
    """The integer each weight code stands for, decoded from the format definitions."""
    codes = np.asarray(codes, dtype=np.int64)
    if config.pe_type == "lightpe1":
        return _lightpe_term(codes)
    if config.pe_type == "lightpe2":
        return _lightpe_term(codes >> 4) + _lightpe_term(codes & 15)
    return _signed(codes & ((1 << config.wt_bits) - 1), config.wt_bits)


def _exact_conv_wrapped(ifmap, weights, layer, config):
    """Exact conv2d from torch (int64, checked against float64), wrapped to psum_bits."""
    exact = _torch_conv(ifmap, weights, layer, np.int64)
    assert np.abs(exact).max() < 2 ** 53
    np.testing.assert_array_equal(exact, _torch_conv(ifmap, weights, layer, np.float64))
    half = 1 << (config.psum_bits - 1)
    return (exact + half) % (2 * half) - half


def _uniform_codes(rng, layer, config):
    """Full-range codes, integers as unsigned two's-complement patterns: every code, extremes included."""
    act = rng.integers(0, 1 << config.act_bits, size=(1, layer.C, layer.H, layer.W)).astype(np.uint16)
    wt = rng.integers(0, 1 << config.wt_bits, size=(layer.M, layer.C, layer.R, layer.S)).astype(np.uint16)
    return act, wt


@pytest.mark.parametrize("layer", LAYERS, ids=LAYER_IDS)
@pytest.mark.parametrize("name", CONFIGS)
@pytest.mark.parametrize("operands", ["quantized", "uniform"])
def test_integer_formats_equal_exact_torch_conv_wrapped(name, layer, operands):
    config = CONFIGS[name]
    rng = _rng(name, layer.name, operands)
    if operands == "quantized":
        ifmap, weights, *_ = random_layer_operands(layer, config, rng, batch=_batch(layer))
        ifmap_integers = np.asarray(ifmap)
    else:
        ifmap, weights = _uniform_codes(rng, layer, config)
        ifmap_integers = _signed(ifmap, config.act_bits)
    golden = conv2d_golden(ifmap, weights, config=config, stride=layer.stride, padding=layer.padding)
    expected = _exact_conv_wrapped(ifmap_integers, _weight_integers(weights, config), layer, config)
    assert golden.dtype == np.int64
    assert golden.shape == (ifmap.shape[0], layer.M, layer.E, layer.F)
    np.testing.assert_array_equal(golden, expected)


@pytest.mark.parametrize("name", ["int16", "int8x8", "lightpe1", "lightpe2"])
def test_random_layer_operands_are_quantized_codes_and_their_values(name):
    config = CONFIGS[name]
    layer = LAYERS[0]
    ifmap, weights, ifmap_values, weight_values = random_layer_operands(layer, config, 7, batch=2)
    assert ifmap.shape == ifmap_values.shape == (2, layer.C, layer.H, layer.W)
    assert weights.shape == weight_values.shape == (layer.M, layer.C, layer.R, layer.S)
    top = (1 << (config.act_bits - 1)) - 1
    assert ifmap.dtype == np.int64 and np.abs(ifmap).max() == top    # per-layer scale: max|x| -> top code
    for codes, values in ((ifmap, ifmap_values), (_weight_integers(weights, config), weight_values)):
        nonzero = codes != 0
        scales = values[nonzero] / codes[nonzero]
        np.testing.assert_allclose(scales, scales[0], rtol=1e-12)
        assert np.all(values[~nonzero] == 0)
    np.testing.assert_array_equal(random_layer_operands(layer, config, 7, batch=2).weight_codes, weights)


WRAP_CASES = {
    # name: (config, C, R, S, activation, weight code): every term is the same large product.
    "int16_psum32": (CONFIGS["int16"], 7, 3, 3, -32768, 0x8000),
    "int4x4_psum8": (AcceleratorConfig(pe_type="int", act_bits=4, wt_bits=4, psum_bits=8), 5, 2, 2, -8, 0x9),
    "int4x4_psum8_to_most_negative": (AcceleratorConfig(pe_type="int", act_bits=4, wt_bits=4, psum_bits=8),
                                      2, 1, 1, -8, 0x8),
    "lightpe1_psum24": (CONFIGS["lightpe1"], 64, 3, 3, -128, 0b1111),
    "lightpe2_psum24": (CONFIGS["lightpe2"], 32, 3, 3, 127, 0x77),
    "int16_psum64_no_wrap": (AcceleratorConfig(pe_type="int", act_bits=16, wt_bits=16, psum_bits=64),
                             8, 3, 3, -32768, 0x8000),
}


@pytest.mark.parametrize("case", WRAP_CASES)
def test_sums_beyond_psum_bits_wrap_in_twos_complement(case):
    config, C, R, S, act, code = WRAP_CASES[case]
    ifmap = np.full((1, C, R, S), act, dtype=np.int64)
    weights = np.full((1, C, R, S), code, dtype=np.uint16)
    golden = conv2d_golden(ifmap, weights, config=config, stride=1, padding=0)
    exact = C * R * S * act * int(_weight_integers(code, config))
    bits = config.psum_bits
    expected = (exact + 2 ** (bits - 1)) % 2 ** bits - 2 ** (bits - 1)
    assert golden.shape == (1, 1, 1, 1)
    assert int(golden[0, 0, 0, 0]) == expected
    assert (expected != exact) == (bits < 64)


def test_random_sums_beyond_psum_bits_wrap_like_exact_modulo():
    config = AcceleratorConfig(pe_type="int", act_bits=8, wt_bits=8, psum_bits=16)
    layer = ConvLayer("wide", C=16, M=4, H=6, W=6, R=3, S=3, padding=1)
    rng = np.random.default_rng(3)
    ifmap = rng.integers(-128, 128, size=(1, 16, 6, 6))
    weights = rng.integers(-128, 128, size=(4, 16, 3, 3))
    golden = conv2d_golden(ifmap, weights, config=config, stride=1, padding=1)
    exact = _torch_conv(ifmap, weights, layer, np.int64)
    assert np.mean(np.abs(exact) >= 2 ** 15) > 0.5
    assert golden.min() >= -2 ** 15 and golden.max() < 2 ** 15
    np.testing.assert_array_equal(golden, (exact + 2 ** 15) % 2 ** 16 - 2 ** 15)


def _default_order(C, R, S):
    return [(c, r, s) for c in range(C) for r in range(R) for s in range(S)]


@pytest.mark.parametrize("layer", LAYERS, ids=LAYER_IDS)
@pytest.mark.parametrize("order", ["default", "random"])
def test_fp32_is_within_the_sequential_rounding_bound_of_torch_float64(layer, order):
    rng = _rng(layer.name, order)
    ifmap, weights, ifmap_values, weight_values = random_layer_operands(layer, FP32, rng, batch=_batch(layer))
    assert ifmap.dtype == weights.dtype == np.float32 and np.all(np.isfinite(ifmap)) and np.all(np.isfinite(weights))
    np.testing.assert_array_equal(ifmap_values, ifmap.astype(np.float64))
    terms = _default_order(layer.C, layer.R, layer.S)
    if order == "random":
        terms = [terms[i] for i in rng.permutation(len(terms))]
    golden = conv2d_golden(ifmap, weights, config=FP32, stride=layer.stride, padding=layer.padding, order=terms)
    assert golden.dtype == np.uint32
    reference = _torch_conv(ifmap, weights, layer, np.float64)
    magnitude = _torch_conv(np.abs(ifmap), np.abs(weights), layer, np.float64)
    # One rounding per product and one per addition: |error| <= K * 2**-24 / (1 - K * 2**-24) * sum|a*w|.
    k = len(terms) * 2 ** -24
    np.testing.assert_array_less(np.abs(golden.view(np.float32) - reference), k / (1 - k) * magnitude + 1e-45)
    np.testing.assert_allclose(golden.view(np.float32), _torch_conv(ifmap, weights, layer, np.float32),
                               rtol=1e-4, atol=1e-5 * magnitude.max())


def _fp32_chain(ifmap_bits, weight_bits, stride, padding, terms, padded_terms):
    """Slow reference: one chain of exact-rational fp32 MACs per output pixel."""
    N, _, H, W = ifmap_bits.shape
    M, _, R, S = weight_bits.shape
    E, F_ = (H + 2 * padding - R) // stride + 1, (W + 2 * padding - S) // stride + 1
    out = np.zeros((N, M, E, F_), dtype=np.uint32)
    for n, m, e, f in np.ndindex(out.shape):
        psum = 0
        for c, r, s in terms:
            y, x = e * stride + r - padding, f * stride + s - padding
            if 0 <= y < H and 0 <= x < W:
                a = int(ifmap_bits[n, c, y, x])
            elif padded_terms == "skip":
                continue
            else:
                a = 0
            psum = fp32_mac_bits(a, int(weight_bits[m, c, r, s]), psum)
        out[n, m, e, f] = psum
    return out


def _with_specials(rng, values):
    """``values`` with a few signed zeros, subnormals, huge numbers, infinities and NaNs."""
    bits = values.astype(np.float32).view(np.uint32).copy()
    specials = np.array([0x8000_0000, 0, 0x0000_0001, 0x8040_0000, 0x7F7F_FFFF, 0x7F80_0000, 0xFF80_0000,
                         0x7F80_0001, 0xFFC0_1234], dtype=np.uint32)
    where = rng.choice(bits.size, size=len(specials), replace=False)
    bits.flat[where] = specials
    return bits


@pytest.mark.parametrize("padded_terms", ["include", "skip"])
@pytest.mark.parametrize("order", ["default", "random"])
@pytest.mark.parametrize("values", ["gaussian", "specials"])
@pytest.mark.parametrize("stride", [1, 2])
def test_fp32_equals_a_chain_of_exact_fp32_macs_in_the_same_order(padded_terms, order, values, stride):
    rng = _rng(padded_terms, order, values, stride)
    ifmap = rng.standard_normal((1, 3, 5, 5)).astype(np.float32)
    weights = rng.standard_normal((2, 3, 3, 3)).astype(np.float32)
    if values == "specials":
        ifmap, weights = _with_specials(rng, ifmap), _with_specials(rng, weights)
    else:
        ifmap, weights = ifmap.view(np.uint32), weights.view(np.uint32)
    terms = _default_order(3, 3, 3)
    if order == "random":
        terms = [terms[i] for i in rng.permutation(len(terms))]
    golden = conv2d_golden(ifmap, weights, config=FP32, stride=stride, padding=1,
                           order=None if order == "default" else terms, padded_terms=padded_terms)
    np.testing.assert_array_equal(golden, _fp32_chain(ifmap, weights, stride, 1, terms, padded_terms))
    if values == "specials":
        assert np.any(golden == FP32_QNAN)
        assert not np.any(np.isnan(golden.view(np.float32)) & (golden != FP32_QNAN))


def test_fp32_order_decides_the_rounding():
    # 1 + 2**-24 rounds back to 1 (tie to even) twice; 2**-24 + 2**-24 first is exact, then 1 + 2**-23.
    ifmap = np.array([1.0, 2.0 ** -24, 2.0 ** -24], dtype=np.float32).reshape(1, 3, 1, 1)
    weights = np.ones((1, 3, 1, 1), dtype=np.float32)
    forward = conv2d_golden(ifmap, weights, config=FP32, stride=1, padding=0)
    backward = conv2d_golden(ifmap, weights, config=FP32, stride=1, padding=0,
                             order=[(2, 0, 0), (1, 0, 0), (0, 0, 0)])
    assert int(forward.item()) == 0x3F80_0000
    assert int(backward.item()) == 0x3F80_0001

    layer = ConvLayer("random", C=16, M=4, H=6, W=6, R=3, S=3, padding=1)
    ifmap, weights, *_ = random_layer_operands(layer, FP32, 11)
    terms = _default_order(16, 3, 3)
    forward = conv2d_golden(ifmap, weights, config=FP32, stride=1, padding=1)
    backward = conv2d_golden(ifmap, weights, config=FP32, stride=1, padding=1, order=terms[::-1])
    assert np.any(forward != backward)


def test_fp32_padded_terms_differ_only_through_infinite_weights():
    layer = ConvLayer("padded", C=2, M=3, H=4, W=4, R=3, S=3, padding=1)
    ifmap, weights, *_ = random_layer_operands(layer, FP32, 5)
    include, skip = (conv2d_golden(ifmap, weights, config=FP32, stride=1, padding=1, padded_terms=mode)
                     for mode in ("include", "skip"))
    np.testing.assert_array_equal(include, skip)
    assert not np.any(include == 0x8000_0000)

    weights[0, 0, 0, 0] = np.inf                                   # the top-left tap of filter 0
    include, skip = (conv2d_golden(ifmap, weights, config=FP32, stride=1, padding=1, padded_terms=mode)
                     for mode in ("include", "skip"))
    assert include[0, 0, 0, 0] == FP32_QNAN                        # reads padding there: +0 * inf
    assert np.isfinite(skip[0, 0, 0, 0].view(np.float32))
    np.testing.assert_array_equal(include[0, 0, 1:, 1:], skip[0, 0, 1:, 1:])
    assert np.all(np.isinf(skip[0, 0, 1:, 1:].view(np.float32)))


def _call(ifmap=None, weights=None, config=CONFIGS["int8x8"], **options):
    ifmap = np.zeros((1, 2, 4, 4), dtype=np.int64) if ifmap is None else ifmap
    weights = np.zeros((3, 2, 3, 3), dtype=np.int64) if weights is None else weights
    options = {"stride": 1, "padding": 0, **options}
    return conv2d_golden(ifmap, weights, config=config, **options)


_HUGE = np.broadcast_to(np.zeros((), dtype=np.int16), (1, 1 << 21, 64, 64))   # no memory behind it
BAD_CALLS = {
    "ifmap_3d": (lambda: _call(ifmap=np.zeros((2, 4, 4), dtype=np.int64)), "ifmap_codes: must be a 4-dimensional"),
    "empty_weights": (lambda: _call(weights=np.zeros((0, 2, 3, 3), dtype=np.int64)), "weight_codes: every dimension"),
    "channels": (lambda: _call(weights=np.zeros((3, 5, 3, 3), dtype=np.int64)), "has 5 input channels"),
    "filter_too_big": (lambda: _call(weights=np.zeros((3, 2, 5, 5), dtype=np.int64)), "does not fit a 4x4 ifmap"),
    "stride_0": (lambda: _call(stride=0), "stride: must be an integer >= 1"),
    "padding_negative": (lambda: _call(padding=-1), "padding: must be an integer >= 0"),
    "padding_float": (lambda: _call(padding=1.0), "padding: must be an integer"),
    "padded_terms": (lambda: _call(padded_terms="zero"), "padded_terms: must be one of include, skip"),
    "config": (lambda: _call(config={"pe_type": "int16"}), "config: must be an AcceleratorConfig"),
    "order_short": (lambda: _call(order=_default_order(2, 3, 3)[1:]), "order: must list every (c, r, s) term"),
    "order_duplicate": (lambda: _call(order=[(0, 0, 1)] + _default_order(2, 3, 3)[1:]),
                        "(0, 0, 1) appears more than once"),
    "order_outside": (lambda: _call(order=_default_order(2, 3, 3)[:-1] + [(2, 0, 0)]), "(2, 0, 0) at position 17"),
    "order_pairs": (lambda: _call(order=[(0, 0)] * 18), "order: must be a sequence of integer (c, r, s) triples"),
    "order_floats": (lambda: _call(order=[(0.0, 0, 0)] * 18), "order: must be a sequence of integer"),
    "order_ragged": (lambda: _call(order=[(0, 0, 0), (1, 0)]), "order: must be a sequence of integer"),
    "signed_out_of_range": (lambda: _call(ifmap=np.full((1, 2, 4, 4), 128)),
                            "signed 8-bit values must be in -128..127"),
    "pattern_out_of_range": (lambda: _call(weights=np.full((3, 2, 3, 3), 256, dtype=np.uint16)),
                             "unsigned 8-bit patterns must be in 0..255"),
    "float_integers": (lambda: _call(ifmap=np.zeros((1, 2, 4, 4))), "integer operands must be an integer array"),
    "lightpe1_code": (lambda: _call(weights=np.full((3, 2, 3, 3), 16), config=CONFIGS["lightpe1"]),
                      "lightpe1 weight codes must be in 0..15"),
    "lightpe2_negative": (lambda: _call(weights=np.full((3, 2, 3, 3), -1), config=CONFIGS["lightpe2"]),
                          "lightpe2 weight codes must be in 0..255"),
    "fp32_float64": (lambda: _call(ifmap=np.zeros((1, 2, 4, 4)), weights=np.zeros((3, 2, 3, 3), np.float32),
                                   config=FP32), "ifmap_codes: fp32 operands must be a float32"),
    "int64_overflow": (lambda: _call(ifmap=_HUGE, weights=_HUGE, config=CONFIGS["int16"]),
                       "could overflow the exact int64 sum"),
    "batch_0": (lambda: random_layer_operands(LAYERS[0], FP32, 0, batch=0), "batch: must be a positive integer"),
}


@pytest.mark.parametrize("case", BAD_CALLS)
def test_bad_input_gets_a_clear_error(case):
    call, message = BAD_CALLS[case]
    with pytest.raises(ConfigError) as raised:
        call()
    assert message in str(raised.value)
    assert isinstance(raised.value, ValueError)
