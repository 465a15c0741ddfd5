"""The MAC unit of a configuration as a :class:`~quidam.characterize.design.Design`, with its workload.

Workload (:func:`mac_stimulus`): dot products of ``taps`` terms (9: a 3x3
filter window), one MAC operation per clock cycle, as a row-stationary PE
runs them: ``psum_in`` is 0 at the first term and the previous result after
that. Weights are standard Gaussian samples quantized to the PE type's weight
format, activations are ReLU'd Gaussian samples (about half zeros) quantized
to its activation format (:mod:`quidam.formats.quantize`, one scale per
tensor). The expected results come from the golden models
(:mod:`quidam.formats.integer`, :mod:`quidam.formats.lightpe`) and, for fp32,
from numpy float32 arithmetic (``rne(rne(a*w) + psum)``), so the gate-level
simulation also checks the synthesized netlist.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from quidam.config import AcceleratorConfig
from quidam.errors import ConfigError
from quidam.formats.integer import int_mac_bits
from quidam.formats.lightpe import lightpe1_mac_bits, lightpe2_mac_bits
from quidam.formats.quantize import activation_format, quantize, weight_format
from quidam.rtl_gen.emit import emit_verilog
from quidam.rtl_gen.mac import mac_for

from .activity import Stimulus
from .design import Design, generator_source_digest

__all__ = ["MAC_PARAMS", "MAX_OPS", "mac_design", "mac_stimulus"]

#: Most MAC operations one point simulates (its stimulus is held in memory, a few hundred bytes each).
MAX_OPS = 1_000_000

#: Configuration fields the MAC unit depends on (the rest describe the array and memories).
MAC_PARAMS = ("pe_type", "act_bits", "wt_bits", "psum_bits", "clock_mhz")

# Cycles in reset before the operations start.
_RESET_CYCLES = 2


def _golden(config: AcceleratorConfig):
    """``(a, w, psum) -> psum_out`` on bit patterns for the configuration's PE type."""
    if config.pe_type == "fp32":
        def fp32(a: int, w: int, psum: int) -> int:
            a32, w32, p32 = (np.array(x, dtype=np.uint32).view(np.float32) for x in (a, w, psum))
            return int(np.array(a32 * w32 + p32, dtype=np.float32).view(np.uint32))
        return fp32
    if config.pe_type == "lightpe1":
        return lambda a, w, psum: lightpe1_mac_bits(a, w, psum, psum_bits=config.psum_bits)
    if config.pe_type == "lightpe2":
        return lambda a, w, psum: lightpe2_mac_bits(a, w, psum, psum_bits=config.psum_bits)
    return lambda a, w, psum: int_mac_bits(a, w, psum, act_bits=config.act_bits, wt_bits=config.wt_bits,
                                           psum_bits=config.psum_bits)


def mac_stimulus(config: AcceleratorConfig, *, latency: int, ops: int = 2000, taps: int = 9,
                 seed: int = 0) -> Stimulus:
    """Quantized dot products for the MAC unit of ``config`` (see the module docstring).

    Parameters
    ----------
    config : AcceleratorConfig
        PE type and widths.
    latency : int
        The unit's latency in cycles (idle cycles are appended so every result comes out).
    ops : int
        Operations, one per measured cycle.
    taps : int
        Terms per dot product.
    seed : int
        Seed of numpy's default generator.
    """
    if not (isinstance(ops, int) and 2 <= ops <= MAX_OPS):
        raise ConfigError(f"ops: must be an integer in 2..{MAX_OPS}, not {ops!r}")
    if not (isinstance(seed, int) and 0 <= seed < 2**32):
        raise ConfigError(f"seed: must be an integer in 0..{2**32 - 1}, not {seed!r}")
    rng = np.random.default_rng(seed)
    weights = quantize(rng.standard_normal(ops), weight_format(config)).codes
    activations = quantize(np.maximum(rng.standard_normal(ops), 0.0), activation_format(config)).codes
    golden = _golden(config)
    inputs = (("rst", 1), ("in_valid", 1), ("a", config.act_bits), ("w", config.wt_bits),
              ("psum_in", config.psum_bits))
    vectors = [(1, 0, 0, 0, 0)] * _RESET_CYCLES
    expected = []
    for k in range(ops):
        a, w = int(activations[k]), int(weights[k])
        psum = 0 if k % taps == 0 else expected[-1]
        vectors.append((0, 1, a, w, psum))
        expected.append(golden(a, w, psum))
    vectors += [(0, 0, 0, 0, 0)] * (latency + 1)
    return Stimulus(inputs=inputs, vectors=tuple(vectors), measure_from=_RESET_CYCLES, measure_cycles=ops,
                    ops=ops, op_name="mac", check_port="psum_out", valid_port="out_valid",
                    expected=tuple(expected))


def mac_design(config: AcceleratorConfig, *, ops: int = 2000, taps: int = 9, seed: int = 0) -> Design:
    """The MAC unit of ``config`` (Verilog from :func:`~quidam.rtl_gen.mac.mac_for`) at ``config.clock_mhz``.

    Parameters
    ----------
    config : AcceleratorConfig
        Supplies the PE type, widths and clock; the array and memory fields are ignored.
    ops, taps, seed
        The workload (see :func:`mac_stimulus`).
    """
    unit = mac_for(config)
    latency = unit.latency
    verilog = emit_verilog(unit, name="mac")
    params: dict[str, Any] = {"unit": "mac", **{name: getattr(config, name) for name in MAC_PARAMS},
                              "latency": latency, "workload": {"ops": ops, "taps": taps, "seed": seed}}
    return Design(name="mac", top="mac", verilog=verilog, params=params, clock_mhz=config.clock_mhz,
                  stimulus=mac_stimulus(config, latency=latency, ops=ops, taps=taps, seed=seed),
                  generator_digest=generator_source_digest())
