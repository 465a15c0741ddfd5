"""IEEE-754 binary32 golden MAC model, in exact rational arithmetic.

The ``fp32`` PE type computes ``psum_out = rne(rne(a * w) + psum_in)``: the
product is rounded to binary32 first, then the sum is rounded (unfused, the
same as numpy float32 arithmetic). Rounding is to nearest, ties to even, with
gradual underflow to subnormals (no flush-to-zero) and overflow to infinity.

Operands and results are 32-bit patterns (Python ints in ``[0, 2**32)``). The
model decodes them to exact :class:`~fractions.Fraction` values, computes the
exact product and sum, and rounds with integer arithmetic; it shares no code
with the RTL and does not use floating point.

Special values follow IEEE 754: signed zeros (the sign of a product is the
exclusive or of the operand signs; an exact zero sum is ``+0`` unless both
addends are ``-0``), infinities, and NaN for ``inf * 0``, ``inf + (-inf)`` and
any NaN operand, quiet or signalling. NaN payloads are not propagated; every
NaN result is ``0x7FC00000``.
"""

import math
from fractions import Fraction

__all__ = [
    "FP32_QNAN", "fp32_value", "fp32_round", "fp32_mac_bits",
    "fp32_corner_cases", "fp32_random_operands",
]

#: The one NaN the model (and the hardware) produces.
FP32_QNAN = 0x7FC0_0000

_SIGN = 0x8000_0000
_INF = 0x7F80_0000
_FRAC_BITS = 23
_BIAS = 127
_EMIN = 1 - _BIAS            # exponent of the smallest normal number
_EMAX = _BIAS                # exponent of the largest normal number

_FINITE, _INFINITE, _NAN = "finite", "infinite", "nan"


def _check_bits(name, bits):
    if not isinstance(bits, int) or isinstance(bits, bool) or not 0 <= bits < 1 << 32:
        raise ValueError(f"{name} must be a 32-bit pattern (an int in [0, 2**32)), not {bits!r}")


def _decode(bits):
    """Split a pattern into ``(negative, kind, magnitude)``; magnitude is exact for finite kinds."""
    negative = bool(bits & _SIGN)
    exponent = (bits >> _FRAC_BITS) & 0xFF
    fraction = bits & ((1 << _FRAC_BITS) - 1)
    if exponent == 0xFF:
        return negative, (_NAN if fraction else _INFINITE), None
    if exponent == 0:
        return negative, _FINITE, Fraction(fraction, 1 << (_FRAC_BITS - _EMIN))
    significand = (1 << _FRAC_BITS) | fraction
    return negative, _FINITE, _scale(Fraction(significand), exponent - _BIAS - _FRAC_BITS)


def _scale(value, power):
    """``value * 2**power`` exactly."""
    return value * (1 << power) if power >= 0 else value / (1 << -power)


def _floor_log2(magnitude):
    """The integer ``e`` with ``2**e <= magnitude < 2**(e + 1)``, for a positive Fraction."""
    num, den = magnitude.numerator, magnitude.denominator
    e = num.bit_length() - den.bit_length()
    if (num << max(-e, 0)) < (den << max(e, 0)):
        e -= 1
    return e


def fp32_value(bits: int):
    """The exact value of a binary32 pattern.

    Returns a :class:`~fractions.Fraction` for finite patterns (both zeros give
    ``Fraction(0)``: the sign of zero is not representable), ``math.inf`` or
    ``-math.inf`` for infinities and ``math.nan`` for every NaN.
    """
    _check_bits("bits", bits)
    negative, kind, magnitude = _decode(bits)
    if kind == _NAN:
        return math.nan
    if kind == _INFINITE:
        return -math.inf if negative else math.inf
    return -magnitude if negative else magnitude


def fp32_round(value: Fraction, *, negative_zero: bool = False) -> int:
    """Round an exact rational to binary32, to nearest with ties to even.

    Results below the normal range become subnormals or a zero carrying the
    sign of ``value``; magnitudes at or above ``2**128 - 2**103`` (half an ulp
    past the largest finite number) become infinities. ``negative_zero`` picks
    the pattern for an exactly zero ``value``, whose sign the caller knows.
    """
    value = Fraction(value)
    if value == 0:
        return _SIGN if negative_zero else 0
    sign = _SIGN if value < 0 else 0
    magnitude = abs(value)
    exponent = max(_floor_log2(magnitude), _EMIN)
    # Count ulps of the target binade: quantum 2**(exponent - 23), or 2**-149 for subnormals.
    scaled = _scale(magnitude, _FRAC_BITS - exponent)
    units, remainder = divmod(scaled.numerator, scaled.denominator)
    twice_remainder = 2 * remainder
    if twice_remainder > scaled.denominator or (twice_remainder == scaled.denominator and units & 1):
        units += 1
    if units >> (_FRAC_BITS + 1):                 # rounding carried into the next binade
        units >>= 1
        exponent += 1
    if exponent > _EMAX:
        return sign | _INF
    if units >> _FRAC_BITS:                      # normal: hidden bit set
        return sign | ((exponent + _BIAS) << _FRAC_BITS) | (units & ((1 << _FRAC_BITS) - 1))
    return sign | units                          # subnormal (exponent field 0) or zero


def _multiply(a, w):
    """``rne(a * w)`` on patterns; NaN results are canonical."""
    a_neg, a_kind, a_mag = _decode(a)
    w_neg, w_kind, w_mag = _decode(w)
    negative = a_neg != w_neg
    if _NAN in (a_kind, w_kind):
        return FP32_QNAN
    if _INFINITE in (a_kind, w_kind):
        if a_mag == 0 or w_mag == 0:             # inf * 0
            return FP32_QNAN
        return (_SIGN if negative else 0) | _INF
    product = a_mag * w_mag
    return fp32_round(-product if negative else product, negative_zero=negative)


def _add(x, y):
    """``rne(x + y)`` on patterns; NaN results are canonical."""
    x_neg, x_kind, x_mag = _decode(x)
    y_neg, y_kind, y_mag = _decode(y)
    if _NAN in (x_kind, y_kind):
        return FP32_QNAN
    if x_kind == _INFINITE and y_kind == _INFINITE:
        return x if x_neg == y_neg else FP32_QNAN
    if x_kind == _INFINITE:
        return x
    if y_kind == _INFINITE:
        return y
    total = (-x_mag if x_neg else x_mag) + (-y_mag if y_neg else y_mag)
    # An exact zero sum is -0 only when both addends are -0 (round to nearest).
    return fp32_round(total, negative_zero=x_neg and y_neg)


def fp32_mac_bits(a: int, w: int, psum: int) -> int:
    """``rne(rne(a * w) + psum)`` on binary32 patterns: the ``fp32`` MAC contract.

    Every NaN result is ``0x7FC00000`` (NaN payloads are not propagated).
    """
    for name, bits in (("a", a), ("w", w), ("psum", psum)):
        _check_bits(name, bits)
    return _add(_multiply(a, w), psum)


def _pow2(power):
    """The pattern of ``2**power`` for a normal power of two."""
    return (power + _BIAS) << _FRAC_BITS


def _neg(bits):
    return bits ^ _SIGN


def fp32_corner_cases() -> list[tuple[int, int, int]]:
    """Directed ``(a, w, psum)`` triples for the corners of the binary32 MAC.

    The cross product of signed zeros, ones, the extreme normals and
    subnormals, infinities and quiet and signalling NaNs in every position,
    plus hand-built cases: ties to even in the product and in the sum (both
    directions), rounding carries into the next binade and to infinity,
    product and sum overflow, underflow to subnormals and to zero, sums of
    subnormals, and exact and near cancellation.
    """
    one = _pow2(0)
    max_normal, min_normal = 0x7F7F_FFFF, 0x0080_0000
    max_subnormal, min_subnormal = 0x007F_FFFF, 0x0000_0001
    snan = 0x7F80_0001
    specials = [
        0, _SIGN, one, _neg(one), min_subnormal, _neg(max_subnormal), min_normal,
        max_normal, _neg(max_normal), _INF, _neg(_INF), FP32_QNAN, snan,
    ]
    cases = [(a, w, p) for a in specials for w in specials for p in specials]

    three, two, half = 0x4040_0000, _pow2(1), _pow2(-1)
    one_ulp = one + 1                               # 1 + 2**-23
    directed = [
        # Product ties: 3 * (1 + 2**-23) is halfway between an odd and an even neighbour (up);
        # 3 * (1 + 3 * 2**-23) is halfway with the lower neighbour even (down).
        (three, one_ulp, 0), (three, one + 3, 0),
        (0x3F80_0800, 0x3F80_0800, 0),              # (1 + 2**-12)**2: tie, lower even
        # Sum ties: 1 + 2**-24 (down to 1), (1 + 2**-23) + 2**-24 (up), and negated.
        (_pow2(-12), _pow2(-12), one), (_pow2(-12), _pow2(-12), one_ulp),
        (_pow2(-12), _neg(_pow2(-12)), _neg(one)), (_pow2(-12), _neg(_pow2(-12)), _neg(one_ulp)),
        (_pow2(-24), one, one), (_pow2(-24), _neg(one), one_ulp),
        # Rounding carries: (2 - 2**-23) + 2**-24 -> 2; (2 - 2**-23)(1 + 2**-23) -> 2.
        (_pow2(-24), one, 0x3FFF_FFFF), (0x3FFF_FFFF, one_ulp, 0),
        # Carry to infinity: max + 2**103 (a tie with an odd lower neighbour).
        (_pow2(52), _pow2(51), max_normal), (_neg(_pow2(52)), _pow2(51), _neg(max_normal)),
        (_pow2(52), _pow2(50), max_normal),
        # Product overflow, and products that stay finite.
        (max_normal, two, 0), (_pow2(64), _pow2(64), 0), (max_normal, one_ulp, 0),
        (max_normal, one, 0), (_neg(max_normal), two, max_normal), (_pow2(64), _pow2(63), 0),
        # Sum overflow.
        (max_normal, one, max_normal), (_neg(max_normal), one, _neg(max_normal)),
        (_pow2(127), two, _neg(max_normal)),
        # Products in the subnormal range, exact and rounded (ties to even toward 0 and 2).
        (min_normal, half, 0), (min_normal, _pow2(-23), 0), (min_normal, _pow2(-24), 0),
        (min_normal, 0x33C0_0000, 0), (3, half, 0), (1, half, 0), (5, half, 0),
        (min_subnormal, min_subnormal, 0), (max_subnormal, one, 0), (max_subnormal, two, 0),
        (min_subnormal, _pow2(127), 0), (3, _pow2(23), 0), (max_subnormal, half, _SIGN),
        (_neg(min_subnormal), half, _SIGN), (_neg(min_subnormal), half, 0),
        (0x0FFF_FFFF, 0x0FFF_FFFF, 0), (0x1F80_0001, 0x2000_0003, min_subnormal),
        # Only a sticky bit below the guard decides: a subnormal product (1 + 2**-22 + 2**-46)
        # * 2**-128 and a sum 1 + 2**-24 + 2**-47 both round up, not to even.
        (0x1F80_0001, 0x1F80_0001, 0), (0x1F80_0001, _neg(0x1F80_0001), _SIGN),
        (0x3380_0001, one, one), (0x3380_0001, _neg(one), _neg(one)), (0x3380_0001, one, _neg(0x3F80_0002)),
        # A carry out of the sum shifts the only sticky bit: 2 - 2**-23 + 2**-22 + 2**-30 rounds up.
        (0x3FFF_FFFF, one, 0x3480_8000), (0x3480_8000, one, 0x3FFF_FFFF),
        # Products just under and just over half the smallest subnormal: 0.5625 and 1.125 * 2**-150.
        (0x19C0_0000, 0x19C0_0000, 0), (0x19C0_0000, 0x1A40_0000, 0), (0x19C0_0000, 0x1A40_0000, _SIGN),
        # Sums of subnormals, and subnormal differences.
        (min_subnormal, one, max_subnormal), (min_subnormal, one, _neg(min_subnormal)),
        (min_normal, one, _neg(min_subnormal)), (max_subnormal, _neg(one), min_normal),
        (0x0040_0000, one, 0x0040_0000), (0x0000_0003, _neg(half), min_subnormal),
        # Signed zeros from products that underflow and from cancellation.
        (_SIGN, one, _SIGN), (_neg(one), 0, _SIGN), (_neg(one), 0, 0), (0, _neg(one), _SIGN),
        (one_ulp, one_ulp, _neg(one + 2)), (three, _neg(one), three), (_neg(three), one, three),
        # Near cancellation: the product rounds to 1 + 2**-22; psum is -(1 + k * 2**-23), k = 1, 3.
        (one_ulp, one_ulp, _neg(one_ulp)), (one_ulp, one_ulp, _neg(one + 3)),
        (three, 0x3EAA_AAAB, _neg(one)), (three, 0x3EAA_AAAA, _neg(one)),
        (0x4049_0FDB, 0x4049_0FDB, 0xC11D_E9E7), (0x4049_0FDB, 0x4049_0FDB, 0xC11D_E9E6),
        # Specials: inf * 0, inf - inf, NaN payloads and signs, signalling NaNs.
        (_INF, _SIGN, one), (_neg(_INF), 0, _neg(_INF)), (_INF, one, _neg(_INF)),
        (_neg(_INF), _neg(one), _neg(_INF)), (max_normal, two, _neg(_INF)),
        (0xFFC0_1234, one, one), (one, 0xFF80_0001, one), (one, one, 0x7FBF_FFFF),
        (0, 0x7F80_0001, 0), (snan, _INF, _neg(_INF)),
    ]
    # Exact cancellation of rounded products: psum = -rne(a * w), and one ulp either side.
    for a, w in ((three, 0x3EAA_AAAB), (0x4049_0FDB, 0x3F35_04F3), (0x0123_4567, 0x3E80_0001),
                 (0x7000_0001, 0x0F00_0003)):
        product = _multiply(a, w)
        directed += [(a, w, _neg(product)), (a, w, _neg(product) + 1), (a, w, _neg(product) - 1)]
    return cases + directed


def _random_pattern(rng, exponent_field, sparse):
    """A pattern with the given exponent field, a random sign, and a random fraction.

    A sparse fraction has at most three bits set, so products and sums land on
    ties and on guard bits followed by long runs of zeros far more often.
    """
    if sparse:
        fraction = 0
        for position in rng.integers(_FRAC_BITS, size=int(rng.integers(4))):
            fraction |= 1 << int(position)
    else:
        fraction = int(rng.integers(1 << _FRAC_BITS))
    return (int(rng.integers(2)) << 31) | (int(exponent_field) << _FRAC_BITS) | fraction


def fp32_random_operands(rng, n: int) -> list[tuple[int, int, int]]:
    """``n`` random ``(a, w, psum)`` triples that exercise the whole datapath.

    A quarter are uniformly random bit patterns. Most of the rest have exponents
    chosen so that ``a * w`` and ``psum`` are close in magnitude (alignment by
    a few bits, carries, massive cancellation), ``psum`` one to a few ulps from
    ``-rne(a * w)`` (exact and near cancellation), or products around the
    subnormal range, often with sparse fractions (ties, sticky bits); the
    remainder mix in zeros, infinities and NaNs.

    Parameters
    ----------
    rng : numpy.random.Generator
        The source of randomness (seed it for reproducible runs).
    n : int
        Number of triples.
    """
    if not isinstance(n, int) or isinstance(n, bool) or n < 0:
        raise ValueError(f"number of operands must be a non-negative integer, not {n!r}")
    specials = [0, _SIGN, _INF, _INF | _SIGN, FP32_QNAN, 0x7F80_0001, 0x7F7F_FFFF, 0x0000_0001]
    triples = []
    for kind in rng.choice(5, size=n, p=[0.25, 0.35, 0.15, 0.15, 0.10]):
        if kind == 0:                                      # uniform bit patterns
            a, w, psum = (int(x) for x in rng.integers(1 << 32, size=3))
        elif kind in (1, 2, 3):
            if kind == 3:                                  # products near the subnormal range
                product_exp = int(rng.integers(-30, 6))
            else:
                product_exp = int(rng.integers(-10, 265))
            a_exp = int(rng.integers(max(0, product_exp - 127), min(254, product_exp + 127) + 1))
            w_exp = min(max(product_exp - a_exp + _BIAS, 0), 254)
            sparse = rng.random() < 0.3
            a, w = _random_pattern(rng, a_exp, sparse), _random_pattern(rng, w_exp, sparse)
            if kind == 2:                                  # psum within a few ulps of -rne(a * w)
                product = _multiply(a, w)
                if (product >> _FRAC_BITS) & 0xFF == 0xFF:
                    psum = int(rng.integers(1 << 32))
                else:
                    magnitude = (product & ~_SIGN) + int(rng.integers(-4, 5))
                    psum = (~product & _SIGN) | min(max(magnitude, 0), 0x7F7F_FFFF)
            else:                                          # psum a few binades from a * w
                shift = int(rng.choice([0, 0, 1, -1, 2, -2, int(rng.integers(-30, 31))]))
                psum = _random_pattern(rng, min(max(product_exp + shift, 0), 254), sparse)
        else:                                              # specials mixed with random values
            a, w, psum = (
                specials[int(rng.integers(len(specials)))] if rng.random() < 0.5
                else int(rng.integers(1 << 32))
                for _ in range(3)
            )
        triples.append((a, w, psum))
    return triples
