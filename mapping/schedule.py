"""A mapped layer: the command sequence and where its operands live off chip."""

from __future__ import annotations

from dataclasses import dataclass
from math import ceil

import numpy as np

from quidam.config import AcceleratorConfig
from quidam.workloads.layer import ConvLayer

from .commands import CommandFormat, DramRead, Pass
from .model import drain_words
from .search import filter_groups, ifmap_feed, ifmap_word_sets

__all__ = ["DramLayout", "IfmapBlock", "OfmapBlock", "Schedule", "WeightBlock"]


@dataclass(frozen=True)
class IfmapBlock:
    """The ifmap words of one channel block, channel-packed the way the feeder multicasts them.

    The block's channels go ``q`` to a PE set, set ``k`` taking channels ``c0 + k*q + i`` (its slots
    ``i < q``). The sets go :attr:`set_lanes` to a word group; a word holds, for one ifmap row and
    column, slots ``j*slot_words .. (j+1)*slot_words - 1`` of every set of its group: lane
    ``d*set_lanes + s`` is set ``g*set_lanes + s``'s slot ``j*slot_words + d``. Word ``((g*slot_rows + j)
    * H + y) * W + x`` from ``base`` holds group ``g``, slot word ``j``, row ``y``, column ``x``; lanes
    whose set or channel the block does not have hold 0. One beat of the feeder carries one slot of every
    set of a group (:func:`~quidam.mapping.search.ifmap_feed`).

    Members
    -------
    base : int
        Off-chip word address.
    c0, channels, q : int
        The block's first channel, its channels, and channels per set.
    vi, H, W : int
        Values per word, ifmap height and width.
    """

    base: int
    c0: int
    channels: int
    q: int
    vi: int
    H: int
    W: int

    @property
    def set_lanes(self) -> int:
        return int(ifmap_word_sets(self.channels, self.q, self.vi))

    @property
    def groups(self) -> int:
        """Word groups: the block's PE sets, ``set_lanes`` to a group."""
        return ceil(ceil(self.channels / self.q) / self.set_lanes)

    @property
    def group_channels(self) -> int:
        """Channels of a full word group (``set_lanes * q``; all of them where one group holds the block)."""
        return min(self.set_lanes * self.q, self.channels)

    @property
    def slot_words(self) -> int:
        """Slots of each set one word holds."""
        return self.vi // self.set_lanes

    @property
    def slot_rows(self) -> int:
        """Slot words of a full group (the last group may have fewer)."""
        return ceil(self.q / self.slot_words)

    @property
    def word_rows(self) -> int:
        """Words per ifmap row and column, over every group."""
        return int(ifmap_feed(self.channels, self.q, self.vi)[1])

    @property
    def words(self) -> int:
        return self.word_rows * self.H * self.W

    def channels_of(self) -> np.ndarray:
        """``(word_rows, vi)`` int64: the channel in each lane of each word row, -1 for 0."""
        row, lane = np.meshgrid(np.arange(self.word_rows), np.arange(self.vi), indexing="ij")
        g, j = row // self.slot_rows, row % self.slot_rows
        d, s = lane // self.set_lanes, lane % self.set_lanes
        k, i = g * self.set_lanes + s, j * self.slot_words + d
        valid = (d < self.slot_words) & (i < self.q) & (k * self.q + i < self.channels)
        return np.where(valid, self.c0 + k * self.q + i, -1)


@dataclass(frozen=True)
class WeightBlock:
    """The filter words of one (filter block, filter-row fold, channel block), as its passes load them.

    Word ``(g*p + m)*q*S + c*S + s`` from ``base`` holds, in lane ``l``, the
    weight the PE row ``i = g*filter_lanes + l`` keeps in filter scratchpad
    entry ``(m*q + c)*S + s``: filter ``m0 + m``, channel ``c0 + k*q + c`` and
    filter row ``r0 + r`` for the row's set ``k = i // set_stride`` and row
    ``r = i mod set_stride`` in it; a lane whose row, set or channel the pass
    does not have holds 0.

    Members
    -------
    base : int
        Off-chip word address.
    m0, p, r0, set_rows, c0, channels : int
        The block's filters, filter rows and channels.
    q, S, set_stride, filter_lanes : int
        The mapping's channels per set, filter width, PE rows per set, and
        PE rows per filter word.
    """

    base: int
    m0: int
    p: int
    r0: int
    set_rows: int
    c0: int
    channels: int
    q: int
    S: int
    set_stride: int
    filter_lanes: int

    @property
    def groups(self) -> int:
        return filter_groups(self.channels, self.q, self.set_stride, self.set_rows, self.filter_lanes)

    @property
    def words(self) -> int:
        return self.groups * self.p * self.q * self.S

    def weights(self) -> np.ndarray:
        """``(words, filter_lanes, 4)`` int64: the ``(m, c, r, s)`` in each lane of each word, -1 for 0."""
        g, m, c, s, lane = np.meshgrid(np.arange(self.groups), np.arange(self.p), np.arange(self.q),
                                       np.arange(self.S), np.arange(self.filter_lanes), indexing="ij")
        row = g * self.filter_lanes + lane
        k, r = row // self.set_stride, row % self.set_stride
        channel = k * self.q + c
        valid = (r < self.set_rows) & (channel < self.channels)
        index = np.stack([self.m0 + m, self.c0 + channel, self.r0 + r, s], axis=-1)
        index[~valid] = -1
        return index.reshape(self.words, self.filter_lanes, 4)


@dataclass(frozen=True)
class OfmapBlock:
    """The final sums of one psum tile, in the order its draining pass writes them off chip.

    The pass makes, for each of its output columns ``s`` and filters ``m``, one token per column (narrow)
    or per group of ``lanes`` columns (wide), in that order. Narrow, the sums follow one another ``vp``
    to a word: sum ``n = (s*p + m)*cols + j`` of column ``j`` is lane ``n mod vp`` of word ``n // vp``.
    Wide, each token's valid lanes fill words of their own, lane ``b`` of group ``g`` in lane ``b mod vp``
    of the token's word ``b // vp``. Sum ``(m, j, s)`` is the ofmap's ``(m0 + m, e0 + j, f0 + s)``.

    Members
    -------
    base : int
        Off-chip word address (the pass's ``out_addr``).
    m0, p, e0, cols, f0, F : int
        The tile's filters, output rows and output columns.
    wide, lanes, vp : int
        The reduction (``Pass.wide``), the psum lanes, and psums per word.
    """

    base: int
    m0: int
    p: int
    e0: int
    cols: int
    f0: int
    F: int
    wide: int
    lanes: int
    vp: int

    @property
    def words(self) -> int:
        return int(drain_words(p=self.p, cols=self.cols, F=self.F, wide=self.wide, lanes=self.lanes, vp=self.vp))

    def places(self) -> tuple[np.ndarray, np.ndarray]:
        """``(p, cols, F)`` int64 arrays: the word (from :attr:`base`) and the lane of each sum ``(m, j, s)``."""
        m, j, s = np.meshgrid(np.arange(self.p), np.arange(self.cols), np.arange(self.F), indexing="ij")
        if not self.wide:
            n = (s * self.p + m) * self.cols + j
            return n // self.vp, n % self.vp
        g, b = j // self.lanes, j % self.lanes
        group_words = -(-np.minimum(self.lanes, self.cols - np.arange(-(-self.cols // self.lanes)) * self.lanes)
                        // self.vp)
        before = np.concatenate([[0], np.cumsum(group_words)])
        return (s * self.p + m) * before[-1] + before[g] + b // self.vp, b % self.vp


@dataclass(frozen=True)
class DramLayout:
    """Off-chip word addresses of one layer's tensors.

    Members
    -------
    ifmap_blocks : tuple of IfmapBlock
        The ifmap, one channel block after another from address 0.
    weight_base : int
        The weights: the :class:`WeightBlock` s one after another.
    weight_blocks : tuple of WeightBlock
    ofmap_blocks : tuple of OfmapBlock
        The output psums, one block per psum tile in the schedule's order, after the weights.
    words : int
        Total words.
    """

    ifmap_blocks: tuple
    weight_base: int
    weight_blocks: tuple
    ofmap_blocks: tuple
    words: int


@dataclass(frozen=True)
class Schedule:
    """The commands that compute ``layer`` on ``config``, with the facts around them.

    Members
    -------
    config : AcceleratorConfig
    layer : ConvLayer
    commands : list
        :class:`DramRead` and :class:`Pass` in execution order.
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
            "draining_passes": sum(isinstance(c, Pass) and c.drain for c in self.commands),
            **self.choice,
        }
