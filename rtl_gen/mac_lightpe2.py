"""LightPE-2 multiply-accumulate unit: two shifts and two adds, no multiplier."""

from quidam.config import AcceleratorConfig

from .mac_lightpe1 import lightpe1_term
from .mac_registered import RegisteredMAC

__all__ = ["LightPE2MAC"]


class LightPE2MAC(RegisteredMAC):
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
        super().__init__(AcceleratorConfig(pe_type="lightpe2", psum_bits=psum_bits))

    def product(self):
        return lightpe1_term(self.a, self.w[4:]) + lightpe1_term(self.a, self.w[:4])
