"""IEEE-754 binary32 multiply-accumulate unit."""

from typing import NamedTuple

from amaranth.hdl import Cat, Const, Module, Mux, Signal, Value, signed
from amaranth.lib import data, wiring
from amaranth.utils import ceil_log2

from .mac_signature import MACSignature

__all__ = ["FP32MAC"]


_QNAN = 0x7FC0_0000
_INF = 0x7F80_0000
_BIAS = 127

_Binary32 = data.StructLayout({"frac": 23, "exp": 8, "sign": 1})

# What crosses each cut of the datapath; a cut is a register or a wire.
_Product = data.StructLayout({
    "significands": 48,        # exact product of the two 24-bit significands
    "shift": signed(10),       # Ea + Eb - 127: left shift budget before the result goes subnormal
    "sign": 1,
    "nan": 1,
    "inf": 1,
    "psum": 32,
})
_Addends = data.StructLayout({"product": 32, "psum": 32})
_Sum = data.StructLayout({
    "magnitude": 28,           # |x + y| scaled so the larger addend's hidden bit is bit 26
    "exp": 8,                  # effective exponent of the larger addend
    "sign": 1,
    "zero_sign": 1,            # sign of an exactly zero sum
    "nan": 1,
    "inf": 1,
})

# Registers after each datapath step, by pipeline depth; the output is always registered.
_CUTS = {
    1: frozenset(),
    2: frozenset({"round_product"}),
    3: frozenset({"multiply", "round_product"}),
    4: frozenset({"multiply", "round_product", "align_add"}),
}


class _Decoded(NamedTuple):
    """A binary32 pattern's fields and class."""

    view: data.View            # sign, exponent and fraction fields
    significand: Value         # 24 bits, with the hidden bit
    exp: Value                 # effective exponent: 1 for subnormals
    zero: Value
    inf: Value
    nan: Value


def _decode(bits):
    view = data.View(_Binary32, bits)
    normal = view.exp.any()
    special = view.exp.all()
    frac_nonzero = view.frac.any()
    return _Decoded(view, Cat(view.frac, normal), Mux(normal, view.exp, 1),
                    ~normal & ~frac_nonzero, special & ~frac_nonzero, special & frac_nonzero)


def _leading_zeros(value):
    """Leading zero count of ``value`` as a balanced priority tree; undefined for zero."""
    def count(bits, want_zero):
        # Split off a power-of-two high part; only its all-zero flag steers the level,
        # so low parts skip computing theirs.
        if len(bits) == 1:
            return Const(0, 1), want_zero and ~bits[0]
        if len(bits) == 2:
            return ~bits[1], want_zero and ~bits.any()
        split = len(bits) - (1 << (ceil_log2(len(bits)) - 1))
        high_count, high_zero = count(bits[split:], True)
        low_count, low_zero = count(bits[:split], want_zero)
        return (Cat(Mux(high_zero, low_count, high_count), high_zero),
                want_zero and high_zero & low_zero)

    return count(value, False)[0]


def _round_to_bits(m, sign, exp, norm, sticky):
    """Round to nearest even and pack a positive finite magnitude into binary32.

    ``norm`` holds the significand with its hidden bit at the top, then the guard
    bit, then bits that only count as sticky; ``exp`` is the biased exponent for a
    set hidden bit. A clear hidden bit means a subnormal or zero. Rounding that
    carries out of the fraction increments the exponent field, up to infinity.
    """
    width = len(norm)
    hidden = norm[width - 1]
    fraction = norm[width - 24:width - 1]
    guard = norm[width - 25]
    round_up = guard & (sticky | norm[:width - 25].any() | fraction[0])
    packed = Signal(31)
    m.d.comb += packed.eq(Cat(fraction, Mux(hidden, exp[:8], 0)) + round_up)
    overflow = hidden & (exp >= 0xFF)
    return Mux(overflow, Cat(Const(_INF, 31), sign), Cat(packed, sign))


def _multiply(m, a, w, psum, out):
    """Step 1: decode and multiply the significands exactly."""
    x, y = _decode(a), _decode(w)
    m.d.comb += [
        out.significands.eq(x.significand * y.significand),
        out.shift.eq(x.exp + y.exp - _BIAS),
        out.sign.eq(x.view.sign ^ y.view.sign),
        out.nan.eq(x.nan | y.nan | (x.inf & y.zero) | (x.zero & y.inf)),
        out.inf.eq(x.inf | y.inf),
        out.psum.eq(psum),
    ]


def _round_product(m, product, out):
    """Step 2: normalise the 48-bit product (or denormalise it below 2**-126) and round it."""
    bits = product.significands
    norm = Signal(48)
    sticky = Signal()
    exp = Signal(signed(10))
    with m.If(product.shift < 0):
        # Below the normal range even before normalising: shift right, keep a sticky bit.
        # From 25 bits on the product is under half the smallest subnormal, so any
        # farther shift rounds to zero alike.
        distance = Signal(range(26))
        m.d.comb += distance.eq(Mux(product.shift < -25, 25, -product.shift))
        wide = Cat(Const(0, 25), bits) >> distance
        m.d.comb += [norm.eq(wide[25:]), sticky.eq(wide[:25].any()), exp.eq(1)]
    with m.Else():
        zeros = _leading_zeros(bits)
        left = Signal(len(zeros))
        m.d.comb += [
            left.eq(Mux(zeros < product.shift, zeros, product.shift)),
            norm.eq(bits << left),
            exp.eq(product.shift + 1 - left),
        ]
    rounded = _round_to_bits(m, product.sign, exp, norm, sticky)
    m.d.comb += [
        out.product.eq(Mux(product.nan, _QNAN,
                       Mux(product.inf, Cat(Const(_INF, 31), product.sign), rounded))),
        out.psum.eq(product.psum),
    ]


def _align_add(m, addends, out):
    """Step 3: order the addends by magnitude, align the smaller with a sticky bit, add."""
    x, y = _decode(addends.product), _decode(addends.psum)
    swap = y.view.as_value()[:31] > x.view.as_value()[:31]
    big = _decode(Mux(swap, addends.psum, addends.product))
    small = _decode(Mux(swap, addends.product, addends.psum))
    subtract = x.view.sign ^ y.view.sign

    # Three bits below the significand (guard, round, sticky) make the rounding exact.
    distance = Signal(range(28))
    m.d.comb += distance.eq(Mux(big.exp - small.exp > 27, 27, big.exp - small.exp))
    wide = Cat(Const(0, 30), small.significand) >> distance
    aligned = Cat(wide[27] | wide[:27].any(), wide[28:54])
    big_ext = Cat(Const(0, 3), big.significand)
    m.d.comb += [
        out.magnitude.eq(Mux(subtract, big_ext - aligned, big_ext + aligned)),
        out.exp.eq(big.exp),
        out.sign.eq(big.view.sign),
        out.zero_sign.eq(x.view.sign & y.view.sign),
        out.nan.eq(x.nan | y.nan | (x.inf & y.inf & subtract)),
        out.inf.eq(x.inf | y.inf),
    ]


def _normalise_round(m, total):
    """Step 4: normalise the sum (at most one right or many left shifts) and round it."""
    magnitude = total.magnitude
    norm = Signal(27)
    exp = Signal(9)
    with m.If(magnitude[27]):
        m.d.comb += [norm.eq(Cat(magnitude[0] | magnitude[1], magnitude[2:])), exp.eq(total.exp + 1)]
    with m.Else():
        zeros = _leading_zeros(magnitude[:27])
        left = Signal(len(zeros))
        # Stop at the smallest normal exponent: what remains is a subnormal, and exact.
        m.d.comb += [
            left.eq(Mux(zeros < total.exp - 1, zeros, total.exp - 1)),
            norm.eq(magnitude[:27] << left),
            exp.eq(total.exp - left),
        ]
    rounded = _round_to_bits(m, total.sign, exp, norm, Const(0))
    return Mux(total.nan, _QNAN,
           Mux(total.inf, Cat(Const(_INF, 31), total.sign),
           Mux(magnitude == 0, Cat(Const(0, 31), total.zero_sign), rounded)))


def _cut(m, registered, name, payload, valid):
    """Pass a step's payload and valid bit through a pipeline register, or straight through."""
    if not registered:
        return payload, valid
    payload_q = Signal.like(payload, name=f"{name}_q")
    valid_q = Signal(name=f"{name}_valid")
    m.d.sync += [payload_q.eq(payload), valid_q.eq(valid)]
    return payload_q, valid_q


class FP32MAC(wiring.Component):
    """IEEE-754 binary32 multiply-accumulate unit: ``psum_out = rne(rne(a * w) + psum_in)``.

    The product is rounded to binary32 before the addition (unfused, the same as
    numpy float32 arithmetic). Rounding is to nearest, ties to even, with
    subnormal operands and results (no flush-to-zero), overflow to infinity,
    IEEE signed zeros, and NaN for ``inf * 0``, ``inf - inf`` and NaN operands.
    NaN payloads are not propagated; every NaN result is ``0x7FC00000``. The
    golden model is :func:`quidam.formats.fp32.fp32_mac_bits`.

    The datapath runs in four steps: decode and multiply the 24-bit
    significands; normalise and round the product; align the smaller addend
    (guard, round and sticky bits) and add; normalise by leading-zero count and
    round. ``stages`` pipeline registers sit between them: with 4, one after
    every step; with 3, after the first two steps; with 2, between the multiplier
    and the adder; with 1, only at the output. One operation is accepted every
    cycle.

    Parameters
    ----------
    stages : int
        Number of pipeline registers, 1 to 4; this is also the latency.

    Members
    -------
    in_valid : In(1)
        An operation is presented this cycle.
    a : In(32)
        Activation, a binary32 pattern.
    w : In(32)
        Weight, a binary32 pattern.
    psum_in : In(32)
        Partial sum, a binary32 pattern.
    out_valid : Out(1)
        ``in_valid`` delayed by ``latency`` cycles; cleared by reset.
    psum_out : Out(32)
        The result of the operation presented ``latency`` cycles ago.
    """

    def __init__(self, *, stages: int = 4):
        if not isinstance(stages, int) or isinstance(stages, bool):
            raise TypeError(f"pipeline stages must be an integer, not {stages!r}")
        if stages not in _CUTS:
            raise ValueError(f"pipeline stages must be from {min(_CUTS)} to {max(_CUTS)}, not {stages}")
        self._stages = stages
        super().__init__(MACSignature(act_bits=32, wt_bits=32, psum_bits=32))

    @property
    def stages(self) -> int:
        """Number of pipeline registers."""
        return self._stages

    @property
    def latency(self) -> int:
        """Cycles from an operation on the inputs to its result on ``psum_out``."""
        return len(_CUTS[self._stages]) + 1

    def elaborate(self, platform):
        m = Module()
        cuts = _CUTS[self._stages]

        product = Signal(_Product)
        _multiply(m, self.a, self.w, self.psum_in, product)
        product, valid = _cut(m, "multiply" in cuts, "multiply", product, self.in_valid)

        addends = Signal(_Addends)
        _round_product(m, product, addends)
        addends, valid = _cut(m, "round_product" in cuts, "round_product", addends, valid)

        total = Signal(_Sum)
        _align_add(m, addends, total)
        total, valid = _cut(m, "align_add" in cuts, "align_add", total, valid)

        m.d.sync += [
            self.psum_out.eq(_normalise_round(m, total)),
            self.out_valid.eq(valid),
        ]
        return m
