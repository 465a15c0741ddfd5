"""The structure the integer and LightPE MAC units share: a combinational product, a registered sum."""

from amaranth.hdl import Module, Signal, Value, signed
from amaranth.lib import wiring

from quidam.config import AcceleratorConfig

from .mac_signature import MACSignature

__all__ = ["RegisteredMAC"]


class RegisteredMAC(wiring.Component):
    """Base of the one-stage integer MACs: ``psum_out = (product(a, w) + psum_in) mod 2**psum_bits``.

    A subclass says how the exact signed product is formed (:meth:`product`);
    the rest is common: the product and the adder are combinational, the sum is
    registered, so the result appears one cycle after the operation
    (:attr:`latency`), and the accumulator loads only on ``in_valid``, so
    ``psum_out`` holds the last result through idle cycles.

    Parameters
    ----------
    config : AcceleratorConfig
        Supplies the operand widths, ``psum_bits`` and the product width.

    Members
    -------
    in_valid, a, w, psum_in, out_valid, psum_out
        The ports of :class:`~quidam.rtl_gen.mac_signature.MACSignature`.
    """

    def __init__(self, config: AcceleratorConfig):
        self._product_bits = config.product_bits
        super().__init__(MACSignature(act_bits=config.act_bits, wt_bits=config.wt_bits,
                                      psum_bits=config.psum_bits))

    @property
    def latency(self) -> int:
        """Cycles from an operation on the inputs to its result on ``psum_out``: 1 (the accumulator register)."""
        return 1

    @property
    def product_bits(self) -> int:
        """Width of the exact signed product."""
        return self._product_bits

    def product(self) -> Value:
        """The exact signed product of ``a`` and ``w``, at most :attr:`product_bits` wide."""
        raise NotImplementedError

    def elaborate(self, platform):
        m = Module()

        product = Signal(signed(self.product_bits))
        m.d.comb += product.eq(self.product())

        accumulator = Signal(self.signature.psum_bits, reset_less=True)
        with m.If(self.in_valid):
            m.d.sync += accumulator.eq(self.psum_in + product)
        m.d.sync += self.out_valid.eq(self.in_valid)
        m.d.comb += self.psum_out.eq(accumulator)
        return m
