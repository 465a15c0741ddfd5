"""A mapped layer: the command sequence and where its operands live off chip."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from quidam.config import AcceleratorConfig
from quidam.workloads.layer import ConvLayer

from .commands import CommandFormat, DramRead, DramWrite, Pass

__all__ = ["DramLayout", "Schedule"]


@dataclass(frozen=True)
class DramLayout:
    """Off-chip word addresses of one layer's tensors.

    Members
    -------
    ifmap_base, ifmap_row_words : int
        The ifmap, ``[C][H][ifmap_row_words]`` words: each row packed from
        lane 0, ``floor(word_bits / act_bits)`` values per word.
    weight_base, weight_row_words : int
        The weights, one filter row of ``S`` values per ``weight_row_words``
        words, in the order ``weight_rows`` lists (the order the passes load
        them).
    weight_rows : numpy.ndarray
        ``(n, 3)`` int64 ``(m, c, r)`` of each stored filter row.
    ofmap_base, ofmap_row_words : int
        The output psums, ``[M][E][ofmap_row_words]`` words.
    words : int
        Total words.
    """

    ifmap_base: int
    ifmap_row_words: int
    weight_base: int
    weight_row_words: int
    weight_rows: np.ndarray
    ofmap_base: int
    ofmap_row_words: int
    words: int


@dataclass(frozen=True)
class Schedule:
    """The commands that compute ``layer`` on ``config``, with the facts around them.

    Members
    -------
    config : AcceleratorConfig
    layer : ConvLayer
    commands : list
        :class:`DramRead`, :class:`DramWrite` and :class:`Pass` in execution order.
    dram : DramLayout
    timing : dict
        The accelerator's latencies the schedule was built for
        (``Accelerator.timing``).
    choice : dict
        The mapping parameters chosen: ``p``, ``q``, ``e`` (output rows per
        block), ``sets`` and the block counts.
    reduction_groups : list
        For fp32: the accumulation structure of every output pixel, a list of
        groups, each a list of ``(c, r, s)`` terms in order; a group is summed
        from the additive identity inside one PE, and the groups' sums are
        added in order down the columns and across passes.
    """

    config: AcceleratorConfig
    layer: ConvLayer
    commands: list
    dram: DramLayout
    timing: dict
    choice: dict
    reduction_groups: list

    @property
    def passes(self) -> list[Pass]:
        return [c for c in self.commands if isinstance(c, Pass)]

    def encoded(self) -> list[int]:
        """The command words, in order."""
        fmt = CommandFormat(self.config)
        return [fmt.encode(c) for c in self.commands]

    def summary(self) -> dict:
        """Counts of each command kind and the mapping choice, JSON-ready."""
        return {
            "passes": len(self.passes),
            "dram_reads": sum(isinstance(c, DramRead) for c in self.commands),
            "dram_writes": sum(isinstance(c, DramWrite) for c in self.commands),
            **self.choice,
        }
