"""LightPE-1 multiply-accumulate unit: one shift and one add, no multiplier."""

from amaranth.hdl import Mux, Value

from quidam.config import AcceleratorConfig

from .mac_registered import RegisteredMAC

__all__ = ["LightPE1MAC", "lightpe1_term"]


def lightpe1_term(activation: Value, code: Value) -> Value:
    """``activation * (-1)**s * 2**e`` for a LightPE-1 code ``[s e2 e1 e0]``, by shifting.

    Parameters
    ----------
    activation : Value
        Signed activation (read as two's complement).
    code : Value
        4-bit weight code: bit 3 is the sign ``s``, bits 2..0 the exponent ``e``.

    Returns
    -------
    Value
        Signed, ``len(activation) + 8`` bits wide: the activation shifted left by
        ``e`` (up to 7 places), negated when ``s`` is set. Exact for every input.
    """
    shifted = activation.as_signed() << code[:3]
    return Mux(code[3], -shifted, shifted)


class LightPE1MAC(RegisteredMAC):
    """LightPE-1 (LightNN-1) MAC: ``psum_out = (a * (-1)**s * 2**e + psum_in) mod 2**psum_bits``.

    ``a`` is a signed 8-bit activation, ``w`` a 4-bit LightPE-1 weight code
    ``[s e2 e1 e0]`` (see :mod:`quidam.formats.lightpe`; there is no zero
    weight). The product is a barrel shift and a conditional negation
    (:func:`lightpe1_term`): the unit has no multiplier. The partial sum is two's
    complement and wraps.

    One register stage: the sum is registered, so the result appears one cycle
    after the operation (:attr:`latency`). The accumulator register loads only
    on ``in_valid``.

    Parameters
    ----------
    psum_bits : int
        Accumulator width, 16..64 (the product is 16 bits); default 24.

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
        super().__init__(AcceleratorConfig(pe_type="lightpe1", psum_bits=psum_bits))

    def product(self):
        return lightpe1_term(self.a, self.w)
