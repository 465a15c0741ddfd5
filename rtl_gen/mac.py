"""The MAC unit of each PE type, and the facts a sidecar records about it.

:func:`mac_for` picks the arithmetic unit for an
:class:`~quidam.config.AcceleratorConfig`; :func:`make_mac` is the same from
keyword arguments, validated by the configuration. Every unit implements
:class:`~quidam.rtl_gen.mac_signature.MACSignature` and has a read-only
``latency``. :func:`describe` gives the JSON-ready description that goes next
to the emitted Verilog (``config.json``).
"""

from __future__ import annotations

from typing import Any

from amaranth.hdl import Shape
from amaranth.lib import wiring

from quidam.config import AcceleratorConfig, default_psum_bits
from quidam.pe_types import pe_type_info

__all__ = ["describe", "mac_for", "make_mac"]

def mac_for(config: AcceleratorConfig) -> wiring.Component:
    """The MAC unit of ``config.pe_type`` with the configuration's widths: the registry's
    :attr:`~quidam.pe_types.PEType.rtl_mac` (``fp32``: :class:`~quidam.rtl_gen.mac_fp32.FP32MAC`, imported
    only then; ``int16`` and ``int``: :class:`~quidam.rtl_gen.mac_int.IntMAC`; ``lightpe1`` and ``lightpe2``:
    :class:`~quidam.rtl_gen.mac_lightpe1.LightPE1MAC` and :class:`~quidam.rtl_gen.mac_lightpe2.LightPE2MAC`).
    """
    return config.pe.mac_unit(act_bits=config.act_bits, wt_bits=config.wt_bits, psum_bits=config.psum_bits)


def make_mac(pe_type: str, *, act_bits: int | None = None, wt_bits: int | None = None,
             psum_bits: int | None = None) -> wiring.Component:
    """The MAC unit of ``pe_type``; unset widths take the configuration's defaults.

    Raises
    ------
    ConfigError
        For an unknown PE type or widths the configuration does not allow.
    """
    return mac_for(AcceleratorConfig(pe_type=pe_type, act_bits=act_bits, wt_bits=wt_bits, psum_bits=psum_bits))


def describe(mac: wiring.Component, *, pe_type: str) -> dict[str, Any]:
    """JSON-ready facts about a MAC unit, for the sidecar next to its Verilog.

    Parameters
    ----------
    mac : wiring.Component
        A unit built by :func:`mac_for` (any component with a
        :class:`~quidam.rtl_gen.mac_signature.MACSignature` and ``latency``).
    pe_type : str
        The PE type it serves (:class:`IntMAC` serves ``int16`` and ``int``):
        its registry entry gives the encodings text and the default psum width.

    Returns
    -------
    dict
        ``pe_type``, ``class`` (the unit's class name), ``act_bits``, ``wt_bits``,
        ``psum_bits``, ``psum_bits_default``, ``latency`` (cycles),
        ``ports`` (name to direction and width, clk and rst included) and
        ``encodings`` (text for ``a``, ``w`` and ``psum``).
    """
    signature = mac.signature
    ports = {"clk": {"direction": "in", "width": 1}, "rst": {"direction": "in", "width": 1}}
    for name, member in signature.members.items():
        ports[name] = {"direction": "in" if member.flow == wiring.In else "out", "width": Shape.cast(member.shape).width}
    return {
        "pe_type": pe_type,
        "class": type(mac).__name__,
        "act_bits": signature.act_bits,
        "wt_bits": signature.wt_bits,
        "psum_bits": signature.psum_bits,
        "psum_bits_default": default_psum_bits(pe_type, signature.act_bits, signature.wt_bits),
        "latency": mac.latency,
        "ports": ports,
        "encodings": pe_type_info(pe_type).encodings,
    }
