"""Integer golden model against an outside reference: numpy uint64 arithmetic with explicit masks."""

import itertools

import numpy as np
import pytest

from quidam.formats.integer import from_signed, int_mac_bits, to_signed, wrap


def _numpy_mac(a, w, psum, act_bits, wt_bits, psum_bits):
    """Reference: sign-extend each pattern to 64 bits, multiply and add modulo 2**64, then mask."""
    def sign_extend(x, bits):
        x = np.asarray(x, dtype=np.uint64)
        high = np.uint64(((1 << 64) - 1) ^ ((1 << bits) - 1))
        return np.where((x >> np.uint64(bits - 1)) & np.uint64(1), x | high, x)

    mask = np.uint64((1 << psum_bits) - 1)
    total = sign_extend(a, act_bits) * sign_extend(w, wt_bits) + sign_extend(psum, psum_bits)
    return total & mask


@pytest.mark.parametrize("bits", [1, 2, 4, 8, 16])
def test_signed_round_trip_is_exhaustive(bits):
    for pattern in range(1 << bits):
        value = to_signed(pattern, bits)
        assert -(1 << (bits - 1)) <= value < 1 << (bits - 1)
        assert from_signed(value, bits) == pattern == wrap(value, bits)


def test_signed_helpers_reject_what_does_not_fit():
    with pytest.raises(ValueError, match="0..255"):
        to_signed(256, 8)
    with pytest.raises(ValueError, match="-128..127"):
        from_signed(128, 8)
    with pytest.raises(ValueError, match="positive integer"):
        wrap(1, 0)
    assert wrap(-1, 24) == 0xFF_FFFF and wrap(1 << 24, 24) == 0


@pytest.mark.parametrize("act_bits, wt_bits, psum_bits", [(2, 2, 8), (3, 4, 8), (4, 3, 12)])
def test_small_widths_exhaustively(act_bits, wt_bits, psum_bits):
    triples = np.array(list(itertools.product(range(1 << act_bits), range(1 << wt_bits), range(1 << psum_bits))))
    expected = _numpy_mac(*triples.T, act_bits, wt_bits, psum_bits)
    got = [int_mac_bits(int(a), int(w), int(p), act_bits=act_bits, wt_bits=wt_bits, psum_bits=psum_bits)
           for a, w, p in triples]
    assert got == expected.tolist()


@pytest.mark.parametrize("act_bits, wt_bits, psum_bits", [
    (4, 4, 16), (8, 8, 24), (8, 4, 20), (16, 16, 32), (16, 16, 40), (16, 16, 64), (2, 16, 18), (16, 2, 64),
])
def test_random_operands_match_numpy(act_bits, wt_bits, psum_bits):
    rng = np.random.default_rng(act_bits * 1000 + wt_bits * 10 + psum_bits)
    n = 20_000
    a = rng.integers(0, 1 << act_bits, n, dtype=np.uint64)
    w = rng.integers(0, 1 << wt_bits, n, dtype=np.uint64)
    psum = rng.integers(0, 1 << psum_bits, n, dtype=np.uint64)
    expected = _numpy_mac(a, w, psum, act_bits, wt_bits, psum_bits)
    got = [int_mac_bits(int(x), int(y), int(p), act_bits=act_bits, wt_bits=wt_bits, psum_bits=psum_bits)
           for x, y, p in zip(a, w, psum)]
    assert got == [int(e) for e in expected]


def test_wrap_around_at_the_extremes():
    # int16: (-32768) * (-32768) + (2**31 - 1) wraps past the top of a 32-bit psum.
    most_negative = from_signed(-(1 << 15), 16)
    top = (1 << 31) - 1
    assert int_mac_bits(most_negative, most_negative, top, act_bits=16, wt_bits=16, psum_bits=32) \
        == wrap((1 << 30) + top, 32) == 0xBFFF_FFFF
    # One below the bottom of the psum range wraps to the top.
    assert int_mac_bits(from_signed(-1, 8), 1, 1 << 23, act_bits=8, wt_bits=8, psum_bits=24) == (1 << 23) - 1
