"""LightPE-2 multiply-accumulate unit: two shifts and two adds, no multiplier."""

from amaranth.hdl import Module, Signal, signed
from amaranth.lib import wiring

from quidam.config import AcceleratorConfig

from .mac_lightpe1 import lightpe1_term
from .mac_signature import MACSignature

__all__ = ["LightPE2MAC"]


class LightPE2MAC(wiring.Component):
    """LightPE-2 (LightNN-2) MAC: ``psum_out = (a * (t_hi + t_lo) + psum_in) mod 2**psum_bits``.

    ``a`` is a signed 8-bit activation, ``w`` an 8-bit LightPE-2 weight code
    whose high and low nibbles are each a LightPE-1 term ``(-1)**s * 2**e``
    (see :mod:`quidam.formats.lightpe`). Each term's product is a shift and a
    conditional negation (:func:`~quidam.rtl_gen.mac_lightpe1.lightpe1_term`),
    the two are added and the sum is accumulated: the unit has no multiplier.
    The partial sum is two's complement and wraps.

    One register stage: the sum is registered, so the result appears one cycle
    after the operation (:attr:`latency`). The accumulator register loads only
    on ``in_valid``.

    Parameters
    ----------
    psum_bits : int
        Accumulator width, 17..64 (the product is 17 bits); default 24.

    Raises
    ------
    ConfigError
        When ``psum_bits`` is out of range (the ranges are defined by the
        accelerator configuration).

    Members
    -------
    in_valid, a, w, psum_in, out_valid, psum_out
        The ports of :class:`~quidam.rtl_gen.mac_signature.MACSignature`.
    """

    def __init__(self, *, psum_bits: int = 24):
        config = AcceleratorConfig(pe_type="lightpe2", psum_bits=psum_bits)
        self._product_bits = config.product_bits
        super().__init__(MACSignature(act_bits=config.act_bits, wt_bits=config.wt_bits,
                                      psum_bits=config.psum_bits))

    @property
    def latency(self) -> int:
        """Cycles from an operation on the inputs to its result on ``psum_out``: 1 (the accumulator register)."""
        return 1

    @property
    def product_bits(self) -> int:
        """Width of the signed product (the sum of two shifted terms), 17 bits."""
        return self._product_bits

    def elaborate(self, platform):
        m = Module()

        product = Signal(signed(self.product_bits))
        m.d.comb += product.eq(lightpe1_term(self.a, self.w[4:]) + lightpe1_term(self.a, self.w[:4]))

        accumulator = Signal(self.signature.psum_bits, reset_less=True)
        with m.If(self.in_valid):
            m.d.sync += accumulator.eq(self.psum_in + product)
        m.d.sync += self.out_valid.eq(self.in_valid)
        m.d.comb += self.psum_out.eq(accumulator)
        return m
