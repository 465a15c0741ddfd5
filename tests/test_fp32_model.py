"""The binary32 golden MAC model against numpy float32 arithmetic and hand-derived values."""

import math
from fractions import Fraction

import numpy as np
import pytest

from quidam.formats.fp32 import (
    FP32_QNAN, fp32_corner_cases, fp32_mac_bits, fp32_random_operands, fp32_round, fp32_value,
)

ONE, INF, SIGN = 0x3F80_0000, 0x7F80_0000, 0x8000_0000
MAX_NORMAL = 0x7F7F_FFFF


def is_nan(bits):
    return (bits & 0x7F80_0000) == 0x7F80_0000 and bits & 0x007F_FFFF != 0


def numpy_mac(triples):
    """``(a * w) + psum`` with every operation in float32, as patterns."""
    patterns = np.array(triples, dtype=np.uint32).reshape(-1, 3)
    a, w, psum = (patterns[:, i].view(np.float32) for i in range(3))
    with np.errstate(all="ignore"):
        product = a * w
        result = product + psum
    assert product.dtype == np.float32 and result.dtype == np.float32
    return [int(x) for x in result.view(np.uint32)]


def assert_matches_numpy(triples):
    expected = numpy_mac(triples)
    mismatches = []
    for triple, reference in zip(triples, expected):
        got = fp32_mac_bits(*triple)
        if is_nan(reference) or is_nan(got):
            ok = is_nan(reference) and got == FP32_QNAN
        else:
            ok = got == reference
        if not ok:
            mismatches.append((*(f"{x:#010x}" for x in triple), f"{got:#010x}", f"{reference:#010x}"))
    assert not mismatches, f"{len(mismatches)} mismatches (a, w, psum, model, numpy), first: {mismatches[:5]}"


def test_numpy_reference_is_float32():
    # 1 + 2**-24 is exact in float64 but rounds to 1 in float32: the reference must round.
    assert numpy_mac([(0x3380_0000, ONE, ONE)]) == [ONE]


def test_corner_cases_match_numpy():
    cases = fp32_corner_cases()
    assert len(cases) > 2000
    assert_matches_numpy(cases)


@pytest.mark.parametrize("seed", range(4))
def test_random_operands_match_numpy(seed):
    assert_matches_numpy(fp32_random_operands(np.random.default_rng(seed), 25_000))


def test_random_operands_are_reproducible_patterns():
    first = fp32_random_operands(np.random.default_rng(7), 500)
    assert first == fp32_random_operands(np.random.default_rng(7), 500)
    assert len(first) == 500
    assert all(len(t) == 3 and all(type(x) is int and 0 <= x < 1 << 32 for x in t) for t in first)


def test_random_operands_exercise_cancellation_and_subnormals():
    triples = fp32_random_operands(np.random.default_rng(3), 4000)
    results = [fp32_mac_bits(*t) for t in triples]
    subnormal = sum(1 for r in results if (r >> 23) & 0xFF == 0 and r & 0x007F_FFFF)
    # Massive cancellation: the result is at least 2**20 times smaller than psum.
    cancelled = sum(
        1 for (_, _, psum), r in zip(triples, results)
        if (psum >> 23) & 0xFF not in (0, 0xFF) and r & 0x7FFF_FFFF
        and (r >> 23) & 0xFF < (psum >> 23) & 0xFF - 20
    )
    assert subnormal > 200 and cancelled > 200


def test_value_decodes_exactly():
    assert fp32_value(ONE) == 1
    assert fp32_value(0x3F80_0001) == 1 + Fraction(1, 2**23)
    assert fp32_value(0xC040_0000) == -3
    assert fp32_value(0x0000_0001) == Fraction(1, 2**149)
    assert fp32_value(0x007F_FFFF) == Fraction(2**23 - 1, 2**149)
    assert fp32_value(0x0080_0000) == Fraction(1, 2**126)
    assert fp32_value(MAX_NORMAL) == 2**128 - 2**104
    assert fp32_value(SIGN) == 0
    assert fp32_value(INF) == math.inf and fp32_value(INF | SIGN) == -math.inf
    assert math.isnan(fp32_value(0x7F80_0001)) and math.isnan(fp32_value(0xFFC0_0000))


def test_round_ties_to_even():
    assert fp32_round(1 + Fraction(1, 2**24)) == ONE                    # tie, lower even
    assert fp32_round(1 + Fraction(3, 2**24)) == 0x3F80_0002            # tie, upper even
    assert fp32_round(1 + Fraction(1, 2**24) + Fraction(1, 2**60)) == 0x3F80_0001  # above the tie
    assert fp32_round(-(1 + Fraction(1, 2**24))) == ONE | SIGN
    assert fp32_round(2 - Fraction(1, 2**24)) == 0x4000_0000            # carry into the exponent


def test_round_subnormals_and_zeros():
    assert fp32_round(Fraction(1, 2**150)) == 0                         # tie between 0 and 2**-149
    assert fp32_round(-Fraction(1, 2**150)) == SIGN                     # keeps the sign
    assert fp32_round(Fraction(3, 2**150)) == 0x0000_0002               # tie, upper even
    assert fp32_round(Fraction(1, 2**150) + Fraction(1, 2**200)) == 0x0000_0001
    assert fp32_round(Fraction(2**24 - 1, 2**150)) == 0x0080_0000       # rounds up to the smallest normal
    assert fp32_round(Fraction(0)) == 0 and fp32_round(Fraction(0), negative_zero=True) == SIGN
    assert fp32_round(Fraction(1, 3)) == 0x3EAA_AAAB


def test_round_overflow():
    assert fp32_round(Fraction(2**128 - 2**103)) == INF                 # tie past the largest: inf
    assert fp32_round(Fraction(2**128 - 2**103) - Fraction(1, 2**10)) == MAX_NORMAL
    assert fp32_round(-Fraction(2**200)) == INF | SIGN


def test_mac_hand_derived():
    three = 0x4040_0000
    # 3 * (1 + 2**-23) = 3 + 1.5 * 2**-22: a tie between ulps 1 and 2 of [2, 4): up to 3 + 2**-21.
    assert fp32_mac_bits(three, 0x3F80_0001, 0) == 0x4040_0002
    # 3 * (1 + 3 * 2**-23) = 3 + 4.5 * 2**-22: a tie between ulps 4 and 5: down.
    assert fp32_mac_bits(three, 0x3F80_0003, 0) == 0x4040_0004
    # Unfused: (1 + 2**-23)**2 rounds to 1 + 2**-22 before psum = -(1 + 2**-22) cancels it to +0
    # (a fused multiply-add would give 2**-46).
    assert fp32_mac_bits(0x3F80_0001, 0x3F80_0001, 0xBF80_0002) == 0
    # (2**-12)**2 + 1 = 1 + 2**-24: a tie, down to 1.
    assert fp32_mac_bits(0x3980_0000, 0x3980_0000, ONE) == ONE
    # 2**52 * 2**51 + max = max + half an ulp: a tie with an odd lower neighbour, up to inf.
    assert fp32_mac_bits(0x5980_0000, 0x5900_0000, MAX_NORMAL) == INF


def test_mac_signed_zeros():
    assert fp32_mac_bits(SIGN, ONE, SIGN) == SIGN                       # -0 + -0
    assert fp32_mac_bits(SIGN, ONE, 0) == 0                             # -0 + +0
    assert fp32_mac_bits(ONE | SIGN, 0, SIGN) == SIGN                   # (-1 * +0) + -0
    assert fp32_mac_bits(ONE, ONE, ONE | SIGN) == 0                     # x + (-x)
    assert fp32_mac_bits(0x0000_0001 | SIGN, 0x3F00_0000, SIGN) == SIGN  # product underflows to -0


def test_mac_specials_give_canonical_nan():
    assert fp32_mac_bits(INF, 0, ONE) == FP32_QNAN                      # inf * 0
    assert fp32_mac_bits(INF, ONE, INF | SIGN) == FP32_QNAN             # inf - inf
    assert fp32_mac_bits(0xFFC0_1234, ONE, ONE) == FP32_QNAN            # payload and sign dropped
    assert fp32_mac_bits(ONE, ONE, 0x7F80_0001) == FP32_QNAN            # signalling NaN
    assert fp32_mac_bits(MAX_NORMAL, 0x4000_0000, INF | SIGN) == FP32_QNAN  # overflowed product - inf
    assert fp32_mac_bits(MAX_NORMAL, 0x4000_0000, MAX_NORMAL | SIGN) == INF
    assert fp32_mac_bits(INF | SIGN, ONE | SIGN, 0) == INF


@pytest.mark.parametrize("args", [(1 << 32, 0, 0), (0, -1, 0), (0, 0, 1.0), (True, 0, 0)])
def test_mac_rejects_non_patterns(args):
    with pytest.raises(ValueError, match="must be a 32-bit pattern"):
        fp32_mac_bits(*args)
