"""Reference and stimulus for the MAC testbench, chosen from a unit's ``config.json`` sidecar.

The expected results come from the golden models in :mod:`quidam.formats`,
never from the RTL; the stimulus is random (with a share of extreme values) or
directed at the corners of each number format. Everything works on bit
patterns, the way the ports carry them, and runs without a simulator. The
fp32 model is imported only when an fp32 unit is under test.
"""

from __future__ import annotations

import itertools
from typing import Any, Callable, Mapping

import numpy as np

from quidam.formats.integer import from_signed
from quidam.pe_types import pe_type_info

__all__ = ["directed_operations", "golden_mac", "random_operations"]

Operation = tuple[int, int, int]

# Share of random operations whose fields are drawn from the extremes instead of uniformly.
_EXTREME_SHARE = 0.1


def golden_mac(sidecar: Mapping[str, Any]) -> Callable[[int, int, int], int]:
    """The golden model ``(a, w, psum_in) -> psum_out`` for the unit a sidecar describes."""
    return pe_type_info(sidecar["pe_type"]).golden(act_bits=sidecar["act_bits"], wt_bits=sidecar["wt_bits"],
                                                   psum_bits=sidecar["psum_bits"])


def _extremes(bits: int) -> list[int]:
    """Bit patterns of the two's-complement extremes and their neighbours, and of -1, 0 and 1."""
    low, high = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    values = sorted({low, low + 1, -1, 0, 1, high - 1, high})
    return [from_signed(v, bits) for v in values]


def random_operations(sidecar: Mapping[str, Any], rng: np.random.Generator, n: int) -> list[Operation]:
    """``n`` random ``(a, w, psum_in)`` patterns for the unit a sidecar describes.

    fp32 takes :func:`~quidam.formats.fp32.fp32_random_operands`. Integer and
    LightPE operands are uniform bit patterns (every pattern is a valid code),
    except that each field of a tenth of them is an extreme value, so that
    wrap-around and the largest products come up often.
    """
    if sidecar["pe_type"] == "fp32":
        from quidam.formats.fp32 import fp32_random_operands

        return fp32_random_operands(rng, n)
    widths = (sidecar["act_bits"], sidecar["wt_bits"], sidecar["psum_bits"])
    columns = []
    for bits in widths:
        uniform = rng.integers(0, 1 << bits, size=n, dtype=np.uint64)
        extreme = rng.choice(np.array(_extremes(bits), dtype=np.uint64), size=n)
        columns.append(np.where(rng.random(n) < _EXTREME_SHARE, extreme, uniform).tolist())
    return list(zip(*columns))


def directed_operations(sidecar: Mapping[str, Any]) -> list[Operation]:
    """Corner cases for the unit a sidecar describes.

    fp32: :func:`~quidam.formats.fp32.fp32_corner_cases`. Integer: every
    combination of extreme activations, weights and partial sums (wrap-around
    both ways). LightPE: every weight code with every extreme activation and
    extreme partial sum.
    """
    if sidecar["pe_type"] == "fp32":
        from quidam.formats.fp32 import fp32_corner_cases

        return fp32_corner_cases()
    act, psum = _extremes(sidecar["act_bits"]), _extremes(sidecar["psum_bits"])
    if sidecar["pe_type"] in ("lightpe1", "lightpe2"):
        weights = range(1 << sidecar["wt_bits"])
    else:
        weights = _extremes(sidecar["wt_bits"])
    return list(itertools.product(act, weights, psum))
