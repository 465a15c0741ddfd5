"""LightPE weight codes and golden MAC models, against numpy arithmetic on the decoded fields."""

import numpy as np
import pytest

from quidam.formats.lightpe import (
    LIGHTPE1_CODES, LIGHTPE2_CODES, lightpe1_mac_bits, lightpe1_value, lightpe2_mac_bits, lightpe2_value,
)

ACTIVATIONS = np.arange(256, dtype=np.int64)          # every signed 8-bit activation pattern


def _reference_lightpe1(codes):
    """Decode ``[s e2 e1 e0]`` with numpy: ``(-1)**s * 2**e``."""
    codes = np.asarray(codes, dtype=np.int64)
    return np.power(-1, codes >> 3) * np.power(2, codes & 7)


def _reference_mac(a, weight, psum, psum_bits):
    """``(int8(a) * weight + signed(psum)) mod 2**psum_bits`` in numpy int64 with an explicit mask."""
    a = np.asarray(a, dtype=np.uint8).view(np.int8).astype(np.int64)
    psum = np.asarray(psum, dtype=np.int64)
    psum = np.where(psum >> (psum_bits - 1), psum - (1 << psum_bits), psum)
    return (a * weight + psum) & ((1 << psum_bits) - 1)


def test_every_lightpe1_code_is_a_signed_power_of_two():
    assert LIGHTPE1_CODES == 16
    for code in range(16):
        sign, exponent = code >> 3, code & 7
        assert lightpe1_value(code) == (-1) ** sign * 2 ** exponent
    values = [lightpe1_value(c) for c in range(16)]
    assert 0 not in values                                   # LightPE-1 has no zero weight
    assert sorted(map(abs, values)) == sorted(2 ** e for e in range(8) for _ in range(2))


def test_every_lightpe2_code_is_the_sum_of_its_nibbles():
    assert LIGHTPE2_CODES == 256
    values = [lightpe2_value(c) for c in range(256)]
    assert values == [lightpe1_value(c >> 4) + lightpe1_value(c & 15) for c in range(256)]
    assert values == (_reference_lightpe1(np.arange(256) >> 4) + _reference_lightpe1(np.arange(256) & 15)).tolist()
    assert 0 in values and min(values) == -256 and max(values) == 256
    # Every LightPE-1 value is also a LightPE-2 value (2**e = 2**(e-1) + 2**(e-1), 1 = 2 - 1).
    assert {lightpe1_value(c) for c in range(16)} <= set(values)


@pytest.mark.parametrize("function, bad", [(lightpe1_value, 16), (lightpe1_value, -1),
                                           (lightpe2_value, 256), (lightpe2_value, 1.0)])
def test_codes_out_of_range_are_rejected(function, bad):
    with pytest.raises(ValueError, match="code must be an integer"):
        function(bad)


@pytest.mark.parametrize("psum_bits", [16, 24, 32])
def test_lightpe1_mac_every_code_and_activation(psum_bits):
    rng = np.random.default_rng(psum_bits)
    a, w = np.meshgrid(ACTIVATIONS, np.arange(16), indexing="ij")
    a, w = a.ravel(), w.ravel()
    psum = rng.integers(0, 1 << psum_bits, a.size)
    psum[:64] = [0, 1, (1 << psum_bits) - 1, 1 << (psum_bits - 1)] * 16         # wrap-around corners
    expected = _reference_mac(a, _reference_lightpe1(w), psum, psum_bits)
    got = [lightpe1_mac_bits(int(x), int(y), int(p), psum_bits=psum_bits) for x, y, p in zip(a, w, psum)]
    assert got == expected.tolist()


@pytest.mark.parametrize("psum_bits", [17, 24, 40])
def test_lightpe2_mac_every_code_and_activation(psum_bits):
    rng = np.random.default_rng(psum_bits)
    a, w = np.meshgrid(ACTIVATIONS, np.arange(256), indexing="ij")
    a, w = a.ravel(), w.ravel()
    psum = rng.integers(0, 1 << psum_bits, a.size)
    weight = _reference_lightpe1(w >> 4) + _reference_lightpe1(w & 15)
    expected = _reference_mac(a, weight, psum, psum_bits)
    got = [lightpe2_mac_bits(int(x), int(y), int(p), psum_bits=psum_bits) for x, y, p in zip(a, w, psum)]
    assert got == expected.tolist()


def test_default_psum_is_24_bits_and_wraps():
    # -128 * 128 + (-2**23) = -2**23 - 2**14 wraps to 2**23 - 2**14.
    assert lightpe1_mac_bits(0x80, 0b0111, 1 << 23) == (1 << 23) - (1 << 14)
    # -128 * -256 + (2**23 - 1) wraps past the top.
    assert lightpe2_mac_bits(0x80, 0xFF, (1 << 23) - 1) == ((1 << 23) - 1 + 32768) & 0xFF_FFFF
