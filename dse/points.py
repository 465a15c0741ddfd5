"""Design points as columns: the arrays the vectorized model and the PPA cards read."""

from __future__ import annotations

import functools

import numpy as np

from quidam.config import AcceleratorConfig
from quidam.mapping import search
from quidam.mapping.mapper import accelerator_timing

__all__ = ["point_table", "timing_of"]


@functools.lru_cache(maxsize=None)
def _timing(pe_type: str, act_bits: int, wt_bits: int, psum_bits: int, rows: int) -> dict[str, int]:
    # The latencies depend on the MAC and the column height only; a 2-column array elaborates fastest.
    config = AcceleratorConfig(pe_type=pe_type, act_bits=act_bits, wt_bits=wt_bits, psum_bits=psum_bits,
                               rows=rows, cols=2, glb_kib=16, glb_banks=4)
    return accelerator_timing(config)


def timing_of(config: AcceleratorConfig) -> dict[str, int]:
    """``Accelerator(config).timing``, shared by every configuration with the same MAC and rows."""
    return _timing(config.pe_type, config.act_bits, config.wt_bits, config.psum_bits, config.rows)


def point_table(configs: list[AcceleratorConfig]) -> dict[str, np.ndarray]:
    """:data:`~quidam.mapping.search.POINT_FIELDS` -> int64 array, one entry per configuration."""
    return search.point_table(configs, [timing_of(config) for config in configs])
