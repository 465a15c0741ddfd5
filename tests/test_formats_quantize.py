"""Quantizers: decoding, round trips, rounding rules, error bounds, vectorization."""

import numpy as np
import pytest

from quidam.config import AcceleratorConfig
from quidam.formats.integer import to_signed
from quidam.formats.lightpe import lightpe1_value, lightpe2_value
from quidam.formats.quantize import (
    LIGHTPE1_VALUES, LIGHTPE2_VALUES, QuantizedTensor, activation_format, decode, dequantize, quantize,
    quantize_int, quantize_lightpe1, quantize_lightpe2, weight_format,
)

INT_FORMATS = [f"int{n}" for n in (2, 3, 4, 8, 12, 16)]


@pytest.fixture
def weights():
    """A heavy-tailed layer of weights, shaped like a conv filter bank."""
    return np.random.default_rng(7).standard_t(4, size=(16, 8, 3, 3)) * 0.05


@pytest.mark.parametrize("fmt", INT_FORMATS + ["lightpe1", "lightpe2"])
def test_every_code_decodes_to_what_the_format_says(fmt):
    if fmt == "lightpe1":
        codes, expected = range(16), [lightpe1_value(c) for c in range(16)]
    elif fmt == "lightpe2":
        codes, expected = range(256), [lightpe2_value(c) for c in range(256)]
    else:
        bits = int(fmt[3:])
        codes, expected = range(1 << bits), [to_signed(c, bits) for c in range(1 << bits)]
    assert decode(np.array(list(codes)), fmt).tolist() == expected
    assert dequantize(np.array(list(codes)), 0.25, fmt).tolist() == [0.25 * v for v in expected]


@pytest.mark.parametrize("fmt", INT_FORMATS + ["lightpe1", "lightpe2"])
def test_representable_values_round_trip(fmt):
    """Quantizing the dequantized value of every code gives back a code of the same value."""
    table = {"lightpe1": LIGHTPE1_VALUES, "lightpe2": LIGHTPE2_VALUES}.get(fmt)
    if table is None:
        bits = int(fmt[3:])
        values = np.arange(-(1 << (bits - 1)) + 1, 1 << (bits - 1))      # -2**(N-1) is never produced
    else:
        values = table
    scale = 0.0137
    q = quantize(values * scale, fmt, scale=scale)
    assert np.array_equal(q.integers(), values)
    assert np.allclose(q.values(), values * scale, rtol=0, atol=1e-12)
    # Quantizing again with the format's own scale rule is a fixed point (LightPE-2 maps max|x| to 128).
    kept = q.values()[np.abs(values) <= 128] if fmt == "lightpe2" else q.values()
    again = quantize(kept, fmt)
    assert np.allclose(again.values(), kept, rtol=1e-12, atol=0)


@pytest.mark.parametrize("fmt", INT_FORMATS)
def test_int_scale_error_bound_and_symmetry(fmt, weights):
    bits = int(fmt[3:])
    q = quantize(weights, fmt)
    top = (1 << (bits - 1)) - 1
    assert q.scale == pytest.approx(np.abs(weights).max() / top)
    assert np.abs(q.integers()).max() == top
    assert np.all(np.abs(q.values() - weights) <= q.scale / 2 + 1e-15)
    assert np.array_equal(quantize(-weights, fmt).integers(), -q.integers())


def test_int_rounds_half_to_even_and_clips():
    q = quantize_int(np.array([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 100.0, -100.0]), 4, scale=1.0)
    assert q.integers().tolist() == [0, 2, 2, 0, -2, -2, 7, -7]
    assert q.codes.tolist() == [0, 2, 2, 0, 14, 14, 7, 9]                  # 4-bit two's complement


def test_lightpe1_is_nearest_in_the_log_domain(weights):
    q = quantize_lightpe1(weights)
    assert q.scale == pytest.approx(np.abs(weights).max() / 128)
    v = weights.ravel() / q.scale
    exponent = np.abs(q.integers().ravel())
    # Brute force: the exponent in 0..7 nearest to log2|v|.
    distance = np.abs(np.log2(np.abs(v))[:, None] - np.arange(8)[None, :])
    assert np.array_equal(np.log2(exponent), np.argmin(distance, axis=1))
    assert np.array_equal(np.sign(q.integers().ravel()), np.where(v < 0, -1, 1))


def test_lightpe1_ties_go_up_and_zero_becomes_plus_one():
    thresholds = 2.0 ** (np.arange(7) + 0.5)
    q = quantize_lightpe1(np.concatenate([thresholds, -thresholds, np.nextafter(thresholds, 0), [0.0]]), scale=1.0)
    assert q.integers().tolist() == ([2 ** (k + 1) for k in range(7)] + [-(2 ** (k + 1)) for k in range(7)]
                                     + [2 ** k for k in range(7)] + [1])


def test_lightpe2_is_the_exact_nearest_value_and_beats_lightpe1(weights):
    q1, q2 = quantize_lightpe1(weights), quantize_lightpe2(weights)
    assert q1.scale == q2.scale
    v = weights.ravel() / q2.scale
    brute = np.min(np.abs(v[:, None] - LIGHTPE2_VALUES[None, :]), axis=1)
    err2 = np.abs(q2.integers().ravel() - v)
    err1 = np.abs(q1.integers().ravel() - v)
    assert np.allclose(err2, brute, rtol=0, atol=1e-12)
    assert np.all(err2 <= err1 + 1e-12)
    assert err2.mean() < err1.mean() / 3


def test_lightpe2_is_never_worse_than_greedy(weights):
    v = weights.ravel() / quantize_lightpe2(weights).scale
    first = quantize_lightpe1(v, scale=1.0).integers()
    second = quantize_lightpe1(v - first, scale=1.0).integers()
    greedy_error = np.abs(first + second - v)
    assert np.all(np.abs(quantize_lightpe2(v, scale=1.0).integers() - v) <= greedy_error + 1e-12)


def test_lightpe2_ties_go_to_the_larger_magnitude_and_codes_are_canonical():
    q = quantize_lightpe2(np.array([0.5, -0.5, 11.0, -11.0, 10.9, 0.0, 1000.0]), scale=1.0)
    assert q.integers().tolist() == [1, -1, 12, -12, 10, 0, 256]     # 11 is not representable: 10 and 12 are
    for code, value in zip(q.codes, q.integers()):
        assert code == min(c for c in range(256) if lightpe2_value(c) == value)


@pytest.mark.parametrize("fmt", INT_FORMATS + ["lightpe1", "lightpe2", "fp32"])
def test_quantizers_are_vectorized_and_keep_shape(fmt, weights):
    q = quantize(weights, fmt)
    assert isinstance(q.codes, np.ndarray) and q.codes.shape == weights.shape
    assert q.values().shape == weights.shape and q.values().dtype == np.float64
    with pytest.raises(ValueError):
        q.codes[0, 0, 0, 0] = 1                                  # read-only: the tensor is frozen


def test_fp32_codes_are_the_float32_bit_patterns(weights):
    q = quantize(weights, "fp32")
    assert q.scale == 1.0
    assert np.array_equal(q.codes, weights.astype(np.float32).view(np.uint32))
    assert np.array_equal(q.values(), weights.astype(np.float32).astype(np.float64))


def test_zero_tensor_and_bad_input():
    assert quantize_int(np.zeros(4), 8).scale == 1.0
    assert quantize_int(np.zeros(4), 8).codes.tolist() == [0, 0, 0, 0]
    assert quantize_lightpe1(np.zeros(2)).integers().tolist() == [1, 1]      # no zero weight in LightPE-1
    with pytest.raises(ValueError, match="NaN or infinite"):
        quantize_int(np.array([1.0, np.nan]), 8)
    with pytest.raises(ValueError, match="scale must be a positive finite"):
        quantize_lightpe2(np.ones(2), scale=0.0)
    with pytest.raises(ValueError, match="format must be one of"):
        quantize(np.ones(2), "int17")
    with pytest.raises(ValueError, match="fit in 4 bits"):
        QuantizedTensor(np.array([16]), 1.0, "lightpe1")


def test_formats_of_each_pe_type():
    cases = {
        AcceleratorConfig(pe_type="fp32"): ("fp32", "fp32"),
        AcceleratorConfig(pe_type="int16"): ("int16", "int16"),
        AcceleratorConfig(pe_type="lightpe1"): ("int8", "lightpe1"),
        AcceleratorConfig(pe_type="lightpe2"): ("int8", "lightpe2"),
        AcceleratorConfig(pe_type="int", act_bits=8, wt_bits=4): ("int8", "int4"),
    }
    for config, (act, wt) in cases.items():
        assert (activation_format(config), weight_format(config)) == (act, wt)
