"""Signed integer multiply-accumulate unit (the ``int16`` and ``int`` PE types)."""

from quidam.config import AcceleratorConfig

from .mac_registered import RegisteredMAC

__all__ = ["IntMAC"]


class IntMAC(RegisteredMAC):
    """Signed integer MAC: ``psum_out = (a * w + psum_in) mod 2**psum_bits``.

    ``a`` and ``w`` are two's-complement integers of ``act_bits`` and
    ``wt_bits``; the product is exact (``act_bits + wt_bits`` wide) and the
    accumulation wraps modulo ``2**psum_bits``, as the golden model
    :func:`quidam.formats.integer.int_mac_bits` defines. The ``int16`` PE type
    is ``IntMAC(act_bits=16, wt_bits=16, psum_bits=32)``.

    One register stage: the multiplier and the adder are combinational and the
    sum is registered, so the result appears one cycle after the operation
    (:attr:`latency`). The accumulator register loads only on ``in_valid``, so
    ``psum_out`` holds the last result through idle cycles.

    Parameters
    ----------
    act_bits : int
        Activation width, 2..16.
    wt_bits : int
        Weight width, 2..16.
    psum_bits : int
        Accumulator width, 8..64 and at least ``act_bits + wt_bits``.

    Raises
    ------
    ConfigError
        When a width is out of range, with the same message as the
        accelerator configuration gives (the ranges are defined there).

    Members
    -------
    in_valid, a, w, psum_in, out_valid, psum_out
        The ports of :class:`~quidam.rtl_gen.mac_signature.MACSignature`.
    """

    def __init__(self, *, act_bits: int, wt_bits: int, psum_bits: int):
        super().__init__(AcceleratorConfig(pe_type="int", act_bits=act_bits, wt_bits=wt_bits, psum_bits=psum_bits))

    def product(self):
        return self.a.as_signed() * self.w.as_signed()
