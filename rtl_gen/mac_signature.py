"""The one MAC contract shared by every PE type's arithmetic unit."""

from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["MACSignature"]


class MACSignature(wiring.Signature):
    """Port contract of a multiply-accumulate unit: ``psum_out = psum_in + a * w``.

    Operands travel as raw bit vectors; what the bits mean (two's complement,
    IEEE-754 binary32, LightPE weight codes) belongs to the implementation. A
    unit accepts one operation per cycle and presents its result ``latency``
    cycles later (the implementation's ``latency`` property), marked by
    ``out_valid``. Emitted as the top module ``mac``, the ports are ``clk``,
    ``rst``, ``in_valid``, ``a``, ``w``, ``psum_in``, ``out_valid``,
    ``psum_out``.

    Parameters
    ----------
    act_bits : int
        Width of the activation operand ``a``.
    wt_bits : int
        Width of the weight operand ``w`` (a weight code for LightPE).
    psum_bits : int
        Width of ``psum_in`` and ``psum_out``.

    Members
    -------
    in_valid : In(1)
        An operation is presented this cycle.
    a : In(act_bits)
    w : In(wt_bits)
    psum_in : In(psum_bits)
    out_valid : Out(1)
        ``psum_out`` holds the result of the operation presented ``latency`` cycles ago.
    psum_out : Out(psum_bits)
    """

    def __init__(self, *, act_bits: int, wt_bits: int, psum_bits: int):
        for name, value in (("act_bits", act_bits), ("wt_bits", wt_bits), ("psum_bits", psum_bits)):
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise TypeError(f"{name.replace('_', ' ')} must be a positive integer, not {value!r}")
        self._act_bits, self._wt_bits, self._psum_bits = act_bits, wt_bits, psum_bits
        super().__init__({
            "in_valid": In(1),
            "a": In(act_bits),
            "w": In(wt_bits),
            "psum_in": In(psum_bits),
            "out_valid": Out(1),
            "psum_out": Out(psum_bits),
        })

    @property
    def act_bits(self) -> int:
        return self._act_bits

    @property
    def wt_bits(self) -> int:
        return self._wt_bits

    @property
    def psum_bits(self) -> int:
        return self._psum_bits

    def __eq__(self, other):
        return (type(other) is type(self)
                and (other.act_bits, other.wt_bits, other.psum_bits)
                == (self.act_bits, self.wt_bits, self.psum_bits))

    def __repr__(self):
        return f"MACSignature(act_bits={self.act_bits}, wt_bits={self.wt_bits}, psum_bits={self.psum_bits})"
