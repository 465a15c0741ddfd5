"""The registry of PE types: the facts each number format fixes, declared once.

Every other module reads a PE type's widths and kind from :data:`PE_TYPES`
instead of comparing ``pe_type`` strings. The registry imports neither
Amaranth nor scikit-learn, so reading it keeps start-up fast.
"""

from __future__ import annotations

import functools
import importlib
import inspect
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Callable, Mapping

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
    weight_format : str or None
        The weights' number format (:mod:`quidam.formats.quantize`); ``None``: ``int<wt_bits>``.
    weight_encoding : str or None
        What a weight's bits mean where they are a code (LightPE); ``None``: the activations' encoding.
    rtl_mac, golden_mac : str
        ``module:name`` of the Amaranth MAC unit and of its golden model on bit patterns ``(a, w, psum) ->
        psum``, imported on demand (:meth:`mac_unit`, :meth:`golden`).
    seed : bool
        One of QADAM's four PE types that the committed datasets and model cards cover.
    encodings : dict
        What the bits on each MAC operand port (``a``, ``w``, ``psum``) mean: the bit-exact contract the
        generated Verilog's sidecar states.
    """

    name: str
    act_bits: int
    wt_bits: int
    free_widths: bool = False
    psum_bits: int | None = None
    weight_product_bits: int | None = None
    is_float: bool = False
    weight_format: str | None = None
    weight_encoding: str | None = None
    rtl_mac: str = "quidam.rtl_gen.mac_int:IntMAC"
    golden_mac: str = "quidam.formats.integer:int_mac_bits"
    seed: bool = True

    @property
    def encodings(self) -> dict[str, str]:
        if self.is_float:
            return {"a": "IEEE-754 binary32", "w": "IEEE-754 binary32",
                    "psum": "IEEE-754 binary32; psum_out = rne(rne(a*w) + psum_in), subnormals kept, "
                            "every NaN result is 0x7FC00000"}
        integer = "signed two's complement"
        weight = "w" if self.weight_encoding is None else "value(w)"
        return {"a": integer, "w": self.weight_encoding or integer,
                "psum": f"{integer}; psum_out = (a*{weight} + psum_in) mod 2**psum_bits"}

    def product_bits(self, act_bits: int, wt_bits: int) -> int:
        """Width of the exact signed product of one activation and one weight."""
        if self.is_float:
            return 32
        return act_bits + (wt_bits if self.weight_product_bits is None else self.weight_product_bits)

    def mac_unit(self, *, act_bits: int, wt_bits: int, psum_bits: int) -> Any:
        """A new MAC unit of this type (:attr:`rtl_mac`, given the widths it takes)."""
        return _with_widths(self.rtl_mac, act_bits=act_bits, wt_bits=wt_bits, psum_bits=psum_bits)()

    def golden(self, *, act_bits: int, wt_bits: int, psum_bits: int) -> Callable[[int, int, int], int]:
        """The golden MAC ``(a, w, psum) -> psum`` on bit patterns (:attr:`golden_mac`, widths bound)."""
        return _with_widths(self.golden_mac, act_bits=act_bits, wt_bits=wt_bits, psum_bits=psum_bits)

    def weight_format_of(self, wt_bits: int) -> str:
        """The weights' format name with ``wt_bits``-bit weights (``"lightpe1"``, ``"int16"``, ...)."""
        return self.weight_format or f"int{wt_bits}"

    def activation_format_of(self, act_bits: int) -> str:
        """The activations' format name with ``act_bits``-bit activations (``"fp32"`` or ``"int<act_bits>"``)."""
        return "fp32" if self.is_float else f"int{act_bits}"

    def default_psum_bits(self, act_bits: int, wt_bits: int) -> int:
        """Accumulator width used when the configuration does not set ``psum_bits``."""
        return min(64, act_bits + wt_bits + 8) if self.psum_bits is None else self.psum_bits


@functools.lru_cache(maxsize=None)
def _resolve(reference: str) -> tuple[Callable, frozenset[str]]:
    """The callable at ``module:name`` and the names of its parameters (once per reference)."""
    module, _, name = reference.partition(":")
    target = getattr(importlib.import_module(module), name)
    return target, frozenset(inspect.signature(target).parameters)


def _with_widths(reference: str, **widths: int) -> Callable:
    """The callable at ``module:name``, with those of ``widths`` its signature takes bound by keyword."""
    target, taken = _resolve(reference)
    bound = {key: value for key, value in widths.items() if key in taken}
    return functools.partial(target, **bound) if bound else target


#: Every PE type by name, in the order the CLI lists them.
PE_TYPES: Mapping[str, PEType] = MappingProxyType({t.name: t for t in (
    PEType("fp32", 32, 32, psum_bits=32, is_float=True, weight_format="fp32",
           rtl_mac="quidam.rtl_gen.mac_fp32:FP32MAC", golden_mac="quidam.formats.fp32:fp32_mac_bits"),
    PEType("int16", 16, 16, psum_bits=32),
    PEType("lightpe1", 8, 4, psum_bits=24, weight_product_bits=8, weight_format="lightpe1",
           weight_encoding="LightPE-1 code [s e2 e1 e0]: (-1)**s * 2**e, e in 0..7 (no zero weight)",
           rtl_mac="quidam.rtl_gen.mac_lightpe1:LightPE1MAC", golden_mac="quidam.formats.lightpe:lightpe1_mac_bits"),
    PEType("lightpe2", 8, 8, psum_bits=24, weight_product_bits=9, weight_format="lightpe2",
           weight_encoding="LightPE-2 code: high nibble and low nibble are LightPE-1 codes, value = sum of the two "
                           "terms",
           rtl_mac="quidam.rtl_gen.mac_lightpe2:LightPE2MAC", golden_mac="quidam.formats.lightpe:lightpe2_mac_bits"),
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
