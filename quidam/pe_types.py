"""The registry of PE types: the facts each number format fixes, declared once.

Every other module reads a PE type's widths and kind from :data:`PE_TYPES`
instead of comparing ``pe_type`` strings. The registry imports neither
Amaranth nor scikit-learn, so reading it keeps start-up fast.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Mapping

from .errors import ConfigError

__all__ = ["PEType", "PE_TYPES", "SEED_PE_TYPES", "pe_type_info"]


@dataclass(frozen=True)
class PEType:
    """What one PE type's number format fixes.

    Members
    -------
    name : str
        The ``pe_type`` value.
    act_bits, wt_bits : int
        Operand widths (the defaults when :attr:`free_widths`).
    free_widths : bool
        Whether the configuration chooses ``act_bits`` and ``wt_bits``.
    psum_bits : int or None
        Default accumulator width; ``None``: the product width plus 8 guard bits, at most 64.
    weight_product_bits : int or None
        Bits a weight adds to the product's width (LightPE: the shift range); ``None``: ``wt_bits``.
    is_float : bool
        IEEE-754 binary32 arithmetic (the product is the 32-bit word).
    seed : bool
        One of QADAM's four PE types that the committed datasets and model cards cover.
    """

    name: str
    act_bits: int
    wt_bits: int
    free_widths: bool = False
    psum_bits: int | None = None
    weight_product_bits: int | None = None
    is_float: bool = False
    seed: bool = True

    def product_bits(self, act_bits: int, wt_bits: int) -> int:
        """Width of the exact signed product of one activation and one weight."""
        if self.is_float:
            return 32
        return act_bits + (wt_bits if self.weight_product_bits is None else self.weight_product_bits)

    def default_psum_bits(self, act_bits: int, wt_bits: int) -> int:
        """Accumulator width used when the configuration does not set ``psum_bits``."""
        return min(64, act_bits + wt_bits + 8) if self.psum_bits is None else self.psum_bits


#: Every PE type by name, in the order the CLI lists them.
PE_TYPES: Mapping[str, PEType] = MappingProxyType({t.name: t for t in (
    PEType("fp32", 32, 32, psum_bits=32, is_float=True),
    PEType("int16", 16, 16, psum_bits=32),
    PEType("lightpe1", 8, 4, psum_bits=24, weight_product_bits=8),  # [s e2 e1 e0] weight code
    PEType("lightpe2", 8, 8, psum_bits=24, weight_product_bits=9),  # two lightpe1 terms
    PEType("int", 8, 8, free_widths=True, seed=False),
)})

#: The four PE types of QADAM that the committed datasets, model cards and the default design space cover.
SEED_PE_TYPES = tuple(name for name, t in PE_TYPES.items() if t.seed)


def pe_type_info(name: str) -> PEType:
    """The registry entry of ``name``.

    Raises
    ------
    ConfigError
        When ``name`` is not a PE type; the message names the allowed ones.
    """
    try:
        return PE_TYPES[name]
    except (KeyError, TypeError):
        raise ConfigError(f"unknown PE type {name!r}; allowed: {', '.join(PE_TYPES)}") from None
