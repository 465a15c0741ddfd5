"""The mapping search and its cost, vectorized over design points: the one search the mapper and the
exploration share.

:func:`layer_performance` gives, for one layer and a whole table of design
points at once (numpy arrays, one entry per point), the mapping the search
chooses, its cycles and its access counts. :func:`~quidam.mapping.mapper.map_layer`
runs it on a one-point table and builds the chosen schedule; the exploration
runs it on thousands. The cycles are the closed forms of
:func:`~quidam.mapping.model.pass_cycles` summed over the schedule's passes,
so they equal :func:`~quidam.mapping.model.evaluate` of the built schedule,
command by command (``tests/test_dse.py`` compares the two evaluation orders
on random points and real layers).

How the loops of the schedule become closed forms
-------------------------------------------------
A mapping (``p`` filters, ``q`` channels per set, ``e`` output rows per
block, ``f`` output columns per width tile) cuts the layer into blocks of at
most two sizes along each of the five loops (filters ``p`` / ``M mod p``,
output rows ``e`` / ``E mod e``, output columns ``f`` / ``F mod f``, filter
rows ``h`` / ``R mod h``, channels ``q*t`` / ``C mod q*t``). A pass's cycles
and counts depend only on its block sizes and on whether it is the first pass
of its psum tile, so the sum over passes is a sum over at most 32 size classes
times their counts, and a correction for the first passes (the classes and
the kinds of pass are array axes, :data:`_CLASS_AXES`). Only the ifmap
words a pass loads depend on where its block lies (padding clips the row
blocks at the top and bottom of the map, and the width tiles at the left and
right): the first and last ``padding + 2`` row blocks and width tiles are
summed one by one, the ones between them are all unclipped and counted at
once (:func:`_edge_kinds`). Where the transfers overlap the passes (two data
regions), each pair of consecutive passes saves ``min(pass, next pass's
reads)``: the same runs of alike passes, visited in order
(:func:`_overlap_saving`).

The search: for every ``q`` in ``1..q_max``, two ``p`` (the balanced one,
``ceil(M / ceil(M / p_max))``, then the largest), the reduction (one column
at a time, then wide on the psum lanes where there are two or more), the
largest ``e`` whose passes of whole output rows fit the GLB with one data
region, then with two; the same number of row blocks balanced (``ceil(E /
ceil(E / e))`` rows each: less feed per column); where that ``e`` is below
``min(E, cols)``, that many output rows in the widest width tiles that fit,
with one region, then two.
The fewest cycles win, the first candidate winning a tie.

Every candidate of every point is one entry of flat arrays
(:func:`_candidates`), and each distinct candidate is costed once: the
largest ``e`` and ``f`` once per distinct mapping and :data:`FIT_FIELDS`,
the cycles once per distinct mapping and class of :data:`COST_FIELDS` (what
the cost reads of them, :func:`_cost_classes`). A space that crosses its
parameters (the exploration's) has far fewer distinct costs than points
times candidates: on the default space's 5,184 INT16 points a ResNet-20
layer has about 130,000 candidates and 8,000 distinct costs. And only the
candidates that can still win are costed in full (:func:`_search`, branch
and bound: without overlap the commands one after another are the cost
itself; with it, the passes or the transfers, whichever take longer, bound
it from below).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from quidam.config import AcceleratorConfig
from quidam.workloads.layer import ConvLayer

from .commands import MAX_SIDE, MAX_STRIDE, CommandFormat
from .model import (ACCESS_KEYS, drain_pace, drain_span, drain_tail, drain_words, pass_cycles, prefetches,
                    reduction_gap, token_interval)

__all__ = ["FAILURES", "POINT_FIELDS", "LayerPerformance", "LayerTable", "filter_groups", "filter_words",
           "ifmap_feed", "ifmap_word_sets", "layer_performance", "lookahead_ring", "mapping_costs", "point_table",
           "reduces_beside", "tile_x_first", "uses_lookahead"]

#: The per-point arrays :func:`layer_performance` reads (integers; ``glb_words``, ``bank_depth``,
#: ``psum_lanes`` and ``filter_lanes`` are :class:`~quidam.mapping.commands.CommandFormat`'s, the last
#: six the accelerator's latencies and reduction facts, ``Accelerator.timing``).
POINT_FIELDS = ("rows", "cols", "ifmap_spad_depth", "filter_spad_depth", "psum_spad_depth", "glb_words",
                "bank_depth", "psum_lanes", "filter_lanes", "glb_word_bits", "act_bits", "wt_bits", "psum_bits",
                "dram_bytes_per_cycle", "mac_latency", "accumulate_interval", "result_delay", "psum_read_span",
                "reduce_beside", "drain_latency")

#: Why a layer does not map, by the code in :attr:`LayerPerformance.failure` (0: it maps).
FAILURES = {
    1: f"stride above the controller's largest stride ({MAX_STRIDE})",
    2: "filter width S above the ifmap or filter scratchpad depth",
    3: f"map sides above {MAX_SIDE}",
    4: "no pass fits the global buffer",
}


@dataclass(frozen=True)
class LayerPerformance:
    """One layer on every design point of a table.

    Members
    -------
    cycles : numpy.ndarray
        int64 cycles (0 where the layer does not map).
    accesses : dict
        :data:`~quidam.mapping.model.ACCESS_KEYS` -> int64 counts.
    p, q, e, f : numpy.ndarray
        The mapping chosen (0 where the layer does not map): filters, channels per set, output rows per
        block, output columns per width tile (``F``: whole rows).
    wide : numpy.ndarray
        Whether the reduction runs on the psum lanes (``Pass.wide``).
    overlap : numpy.ndarray
        Whether the GLB holds two data regions, so that the next pass's reads run beside the current pass.
    failure : numpy.ndarray
        0 where the layer maps, else a key of :data:`FAILURES`.
    """

    cycles: np.ndarray
    accesses: dict
    p: np.ndarray
    q: np.ndarray
    e: np.ndarray
    f: np.ndarray
    wide: np.ndarray
    overlap: np.ndarray
    failure: np.ndarray

    @property
    def mapped(self) -> np.ndarray:
        return self.failure == 0


def point_table(configs: list[AcceleratorConfig], timings: list[dict]) -> dict[str, np.ndarray]:
    """:data:`POINT_FIELDS` -> int64 array, one entry per configuration (``timings``: each one's
    ``Accelerator.timing``)."""
    rows = []
    for config, timing in zip(configs, timings, strict=True):
        fmt = CommandFormat(config)
        fields = {**config.to_dict(), **timing, "glb_words": fmt.glb_words, "bank_depth": fmt.bank_depth,
                  "psum_lanes": fmt.psum_lanes, "filter_lanes": fmt.filter_lanes}
        rows.append([fields[name] for name in POINT_FIELDS])
    table = np.array(rows, dtype=np.int64).reshape(len(configs), len(POINT_FIELDS))
    return {name: table[:, index] for index, name in enumerate(POINT_FIELDS)}


def lookahead_ring(layer: ConvLayer) -> int:
    """Ifmap-scratchpad entries per channel with lookahead: the window and the next column's new values."""
    return layer.S + min(layer.stride, layer.S)


def uses_lookahead(layer: ConvLayer, q, ifmap_spad_depth):
    """Whether a pass of ``q`` channels per set streams with lookahead (ints or arrays): wherever the ``q``
    rings fit the ifmap scratchpad, since lookahead is never slower."""
    return q * lookahead_ring(layer) <= ifmap_spad_depth


def _ceil_div(a, b):
    if not isinstance(b, np.ndarray) or b.ndim == 0:
        return -(-a // b)
    # numpy's int64 division by an array is about twice as slow as float64's, which is exact here (|a| < 2**52).
    return np.ceil(np.divide(a, b)).astype(np.int64)


def filter_groups(channels, q, set_stride, set_rows, filter_lanes):
    """Groups of ``filter_lanes`` PE rows a pass loads filter words for (``Pass.filter_groups``; ints or
    arrays): the rows from the first to the last active one, ``ceil(channels / q)`` sets of ``set_stride``."""
    return _ceil_div((_ceil_div(channels, q) - 1) * set_stride + set_rows, filter_lanes)


def filter_words(channels, p, q, S, set_stride, set_rows, filter_lanes):
    """Filter words a pass loads, one per group and filter scratchpad entry of its ``p*q*S``."""
    return filter_groups(channels, q, set_stride, set_rows, filter_lanes) * p * q * S


def ifmap_word_sets(channels, q, vi):
    """PE sets one ifmap word feeds at once (``Pass.set_lanes``; ints or arrays): one lane per set, at most
    the ``vi`` values of a word; a word holds ``vi // set_lanes`` channels of each of its sets."""
    return np.maximum(1, np.minimum(vi, _ceil_div(channels, q)))


def ifmap_feed(channels, q, vi):
    """Of a channel block of ``channels`` spread ``q`` per set (ints or arrays): the feeder's beats per
    stream position and the ifmap words per ifmap column and row (word rows, ``IfmapBlock.word_rows``).

    The sets go ``set_lanes`` to a word group; a group's beat carries slot ``i`` of each of its sets, and
    ``vi // set_lanes`` slots share a word (the ones after the first are sent from the same word again)."""
    lanes = ifmap_word_sets(channels, q, vi)
    depth = vi // lanes
    full, rest = channels // (lanes * q), channels % (lanes * q)
    last = np.minimum(q, rest)
    return full * q + last, full * _ceil_div(q, depth) + _ceil_div(last, depth)


def reduces_beside(pts, wide, overlap):
    """Whether a pass's next column computes while its reduction runs (``Pass.gap`` below the
    reduction): the PE adds psums beside its MAC, the tokens run on the psum lanes, and the ifmap feeder
    reads a data region in banks of its own (two regions)."""
    return (pts["reduce_beside"] == 1) & wide & overlap


def _pass_cycles(lay: "LayerTable", pts: dict, *, p, q, beats, ha, eb, fb, weights, wide, overlap, first, drain,
                 lookahead):
    """:func:`~quidam.mapping.model.pass_cycles` of a pass of ``p`` filters, ``ha`` filter rows, ``eb``
    output rows and ``fb`` output columns (arrays) that loads ``weights`` filter words and feeds ``beats``
    per stream position (:func:`ifmap_feed` of its channels); ``first`` and ``drain``: the first and the
    last pass of its psum tile."""
    S = lay.S
    slots = np.maximum(p, pts["accumulate_interval"])
    tokens = lay.groups(eb, pts, wide) * p
    pace = drain_pace(word_bytes=pts["glb_word_bits"] // 8, dram_bytes_per_cycle=pts["dram_bytes_per_cycle"])
    ii = token_interval(first=first, drain=drain, wide=wide, overlap=overlap, pace=pace)
    span = drain_span(drain=drain, wide=wide, p=p, cols=eb, lanes=pts["psum_lanes"], vp=lay.vp, pace=pace,
                      result_delay=pts["result_delay"], drain_latency=pts["drain_latency"])
    tail = drain_tail(drain=drain, wide=wide, p=p, cols=eb, F=fb, vp=lay.vp, drain_latency=pts["drain_latency"])
    nstream = (eb - 1) * np.minimum(lay.U, ha) + ha
    gap = reduction_gap(tokens=tokens, ii=ii, p=p, slots=slots, qs=q * S, mac_latency=pts["mac_latency"],
                        result_delay=pts["result_delay"], psum_read_span=pts["psum_read_span"],
                        beside=reduces_beside(pts, wide, overlap))
    return pass_cycles(rows=pts["rows"], filter_words=weights, F=fb,
                       compute=q * S * slots + pts["mac_latency"] + 1, first_feed=beats * nstream * S,
                       next_feed=beats * nstream * lay.n_next, tokens=tokens, ii=ii, result_delay=pts["result_delay"],
                       gap=gap, lookahead=lookahead, span=span, tail=tail,
                       prefetch=prefetches(first=first, drain=drain, wide=wide, overlap=overlap))


def _transfer(words, pts):
    """:func:`~quidam.mapping.model.transfer_cycles` on arrays."""
    return np.maximum(words, _ceil_div(words * (pts["glb_word_bits"] // 8), pts["dram_bytes_per_cycle"]))


class LayerTable:
    """One layer on a table of points: its constants, the per-point words of a row of each tensor, and where
    a mapping's passes keep their data in the GLB (the layout the mapper builds).

    The ifmap is channel-packed (:class:`~quidam.mapping.schedule.IfmapBlock`): a word holds the values of
    several channels at one ifmap column, so a row of a word row is ``W`` words. A mapping of ``f`` output
    columns per width tile (``f < F``: the output row is cut into tiles of ``f`` columns, ``f`` a multiple
    of :attr:`tile_quantum`) holds, per word row and ifmap row, a window of :meth:`row_words` words from
    its first unpadded column (:func:`tile_x_first`); ``f = F`` holds whole rows.
    """

    def __init__(self, layer: ConvLayer, pts: dict):
        self.L = layer
        self.E, self.F, self.U, self.S = layer.E, layer.F, layer.stride, layer.S
        word_bits = pts["glb_word_bits"]
        self.vi, self.vp = word_bits // pts["act_bits"], word_bits // pts["psum_bits"]
        self.if_row_words = layer.W
        self.tile_quantum = self.vp
        self.n_next = min(layer.stride, layer.S)
        self.h = np.minimum(layer.R, pts["rows"])
        self.t = pts["rows"] // self.h
        self.filter_lanes = pts["filter_lanes"]

    def ps_row_words(self, f):
        """GLB words of one psum row of a width tile of ``f`` output columns."""
        return _ceil_div(f, self.vp)

    def row_words(self, f):
        """GLB words a pass of ``f`` output columns per tile holds per word row and ifmap row: a whole row, or
        (tiled) the window of the tile's ``(f-1)*U + S`` padded columns."""
        L = self.L
        return np.where(f >= self.F, L.W, np.minimum(L.W, (f - 1) * L.stride + L.S))

    def values_per_row(self, f):
        """Ifmap values streamed per stream row over the ``f`` output columns of a pass."""
        return self.S + (f - 1) * self.n_next

    def inside_values(self, x0, f):
        """Of the values a pass of ``f`` output columns from padded ifmap column ``x0`` streams per stream row,
        those inside the unpadded row (read from the GLB; the rest are padding)."""
        L = self.L
        lo = x0 - L.padding
        if L.stride <= L.S:   # the columns streamed are contiguous
            return np.maximum(0, np.minimum(L.W, lo + L.S + (f - 1) * L.stride) - np.maximum(0, lo))
        count = 0
        for k in range(L.S):   # columns lo + g*U + k for g < f
            first = np.maximum(0, _ceil_div(-(lo + k), L.stride))
            last = np.minimum(f - 1, np.floor_divide(L.W - 1 - (lo + k), L.stride))
            count = count + np.maximum(0, last - first + 1)
        return count

    def tiles(self, f):
        """Width tiles per output row."""
        return _ceil_div(self.F, f)

    def tile_reads(self, w, f):
        """Words a pass of width tile ``w`` reads off chip per word row and ifmap row (tiled: its window,
        clipped at both ends of the row)."""
        L = self.L
        lo = w * f * self.U - L.padding
        end = np.minimum(L.W, lo + (f - 1) * self.U + self.S)
        return np.where(f >= self.F, L.W, np.maximum(0, end - tile_x_first(w * f * self.U, L.padding)))

    def groups(self, e, pts, wide):
        """``mapping.mapper._Plan.groups`` on arrays."""
        return np.where(wide, _ceil_div(e, pts["psum_lanes"]), e)

    def data_base(self, p, e, f, pts, wide):
        """GLB word address after the psum tile of a pass of ``p`` filters, ``e`` output rows and ``f`` output
        columns, where the pass keeps its filters and ifmap rows when it has one data region
        (``mapper._Plan``)."""
        row = self.ps_row_words(f)
        lane_words = p * self.groups(e, pts, wide) * row
        return np.where(wide, (pts["psum_lanes"] - 1) * pts["bank_depth"] + lane_words, p * e * row)

    def data_words(self, p, q, e, f):
        """GLB words of the filters and ifmap rows of the largest pass of (p, q, e, f)."""
        L = self.L
        channels = np.minimum(q * self.t, L.C)   # the largest block has the most word rows
        rows = np.minimum(L.H, (e - 1) * L.stride + self.h)
        return (filter_words(channels, p, q, L.S, self.h, self.h, self.filter_lanes)
                + ifmap_feed(channels, q, self.vi)[1] * rows * self.row_words(f))

    def fits(self, p, q, e, f, pts, wide):
        """Whether the passes of (p, q, e, f) fit the GLB with one data region after the psum tile (lane
        banks included)."""
        lane_words = p * self.groups(e, pts, wide) * self.ps_row_words(f)
        need = self.data_base(p, e, f, pts, wide) + self.data_words(p, q, e, f)
        return (need <= pts["glb_words"]) & (~wide | (lane_words <= pts["bank_depth"]))

    def regions(self, p, q, e, f, pts, wide):
        """The two data regions of double buffering, each in banks of its own after the psum tile's (the
        transfers of the next pass fill one while the array reads the other): their GLB word addresses,
        and whether both fit."""
        depth = pts["bank_depth"]
        row = self.ps_row_words(f)
        lane_words = p * self.groups(e, pts, wide) * row
        tile_banks = np.where(wide, pts["psum_lanes"], _ceil_div(p * e * row, depth))
        region = _ceil_div(self.data_words(p, q, e, f), depth) * depth
        first = tile_banks * depth
        fits = ((first + 2 * region <= pts["glb_words"]) & (~wide | (lane_words <= depth))
                & (tile_banks < pts["glb_words"] // depth))
        return first, first + region, fits

    def fits_in(self, p, q, e, f, pts, wide, overlap):
        """:meth:`fits` with one data region, :meth:`regions` with two (``overlap``, a bool or an array)."""
        if np.ndim(overlap) == 0:   # the searches' bisections: only the layout asked for
            return self.regions(p, q, e, f, pts, wide)[2] if overlap else self.fits(p, q, e, f, pts, wide)
        return np.where(overlap, self.regions(p, q, e, f, pts, wide)[2], self.fits(p, q, e, f, pts, wide))


def tile_x_first(x0, pad):
    """First unpadded ifmap column a pass whose first output column's window starts at padded column ``x0``
    holds in the GLB."""
    return np.maximum(0, x0 - pad)


def _bisect(hi, fits):
    """The largest n in 1..hi with ``fits(n)`` on every point (0 where none): fits must be monotone."""
    lo = np.zeros_like(hi)
    while True:
        active = lo < hi
        if not active.any():
            return lo
        mid = (lo + hi + 1) // 2
        ok = fits(mid)
        lo = np.where(active & ok, mid, lo)
        hi = np.where(active & ~ok, mid - 1, hi)


def _largest_e(lay: LayerTable, pts: dict, p, q, wide, overlap):
    """The largest e in 1..min(E, cols) whose untiled passes fit the GLB (0 where none does), with one data
    region or (``overlap``) two."""
    return _bisect(np.minimum(lay.E, pts["cols"]), lambda e: lay.fits_in(p, q, e, lay.F, pts, wide, overlap))


def _largest_f(lay: LayerTable, pts: dict, p, q, e, wide, overlap):
    """The largest width tile below F, a multiple of ``tile_quantum``, whose passes of ``e`` output rows fit
    the GLB (0 where none does)."""
    quantum = lay.tile_quantum
    k = _bisect((lay.F - 1) // quantum, lambda k: lay.fits_in(p, q, e, k * quantum, pts, wide, overlap))
    return k * quantum


def _stream_rows_inside(lo, hi, e_blk, h_act, U):
    """Stream rows of a pass (``mapping.model._stream_rows``) with ``lo <= y < hi``."""
    dense = (e_blk - 1) * U

    def periodic(n):  # rows y < n (n <= dense) with y % U < h_act
        return (n // U) * np.minimum(h_act, U) + np.minimum(n % U, h_act)

    clip = lambda n: np.clip(n, 0, dense)  # noqa: E731
    span = dense + h_act
    tail = np.maximum(0, np.minimum(hi, span) - np.maximum(lo, dense))
    return np.maximum(0, periodic(clip(hi)) - periodic(clip(lo))) + tail


def _edge_kinds(n, edge: int):
    """The blocks of a loop of ``n`` blocks (an array over points) as kinds, in loop order: the first ``edge``
    one by one, the ones between them (all alike, represented by block ``edge``), the last ``edge`` one by
    one; a list of (block index, count) arrays, the count 0 where a kind has no block."""
    kinds = []
    for k in [*range(edge), None, *range(edge, 2 * edge)]:
        if k is None:
            kinds.append((np.full_like(n, edge), np.maximum(0, n - 2 * edge)))
        else:
            b = k if k < edge else n - 2 * edge + k
            present = (b < n) & (b >= 0) & ((k < edge) | (b >= edge))
            kinds.append((np.maximum(b, 0) + np.zeros_like(n), present.astype(np.int64)))
    return kinds


def _width_tiles(lay: LayerTable, pts: dict, f):
    """The width tiles of an output row as :func:`_edge_kinds`: (tile index, count, output columns, words read
    per ifmap row, cycles of one row's read) arrays, the tile position only changing the words its reads clip
    and the padding its feed skips."""
    tiles = lay.tiles(f)
    for w, count in _edge_kinds(tiles, lay.L.padding + 2):
        if count.any():
            words = lay.tile_reads(w, f)
            yield w, count, np.where(w == tiles - 1, lay.F - (tiles - 1) * f, f), words, 2 + _transfer(words, pts)


def _ifmap_reads(lay: LayerTable, pts: dict, n_rows, row_cycles, f):
    """Cycles of the off-chip reads of one word row's ``n_rows`` ifmap rows: one command (untiled), or one
    per row of ``row_cycles`` (tiled)."""
    whole = 2 + _transfer(n_rows * lay.if_row_words, pts)
    tiled = f < lay.F
    if tiled.any():
        whole = np.where(tiled, n_rows * row_cycles, whole)
    return np.where(n_rows > 0, whole, 0)


#: The axes of :func:`_costs`'s arrays: the pass kind (:data:`_KIND_FIRST`, :data:`_KIND_DRAIN`), the block
#: size classes of the five loops (filters, output rows, output columns, filter rows, channels), the points.
_CLASS_AXES = ("kind", "p", "e", "f", "h", "c", "point")

#: The three kinds of pass along the kind axis: neither first nor draining, a tile's first, a tile's last.
_KIND_FIRST = np.array([False, True, False]).reshape(3, *(1,) * (len(_CLASS_AXES) - 1))
_KIND_DRAIN = np.array([False, False, True]).reshape(3, *(1,) * (len(_CLASS_AXES) - 1))


def _class_axis(size, total, axis: str):
    """The two block sizes of a loop of ``total`` cut into blocks of ``size`` (``size`` and the rest) and their
    counts (the full blocks, 0 or 1), along ``axis`` of :data:`_CLASS_AXES`; the rest left out where no point
    has one."""
    full = total // size
    rest = total - full * size
    has_rest = rest > 0
    n = 2 if has_rest.any() else 1
    at = _CLASS_AXES.index(axis)
    shape = (1,) * at + (n,) + (1,) * (len(_CLASS_AXES) - 2 - at) + (-1,)
    return (np.stack([size, rest][:n]).reshape(shape),
            np.stack([full, has_rest.astype(np.int64)][:n]).reshape(shape))


def _total(values):
    """``values`` (an array over :data:`_CLASS_AXES`, or some of them and the points) summed per point."""
    return values.sum(axis=tuple(range(values.ndim - 1)))


def _costs(lay: LayerTable, pts: dict, p, q, e, f, wide, overlap, counts: bool, bound: bool = False):
    """Cycles (and the access counts when ``counts``) of the schedule ``map_layer`` builds for (p, q, e, f,
    wide, overlap): the commands one after another, less :func:`_overlap_saving` where they overlap.

    The passes are summed over their size classes and kinds at once, one array axis each
    (:data:`_CLASS_AXES`): a term computes over the axes it depends on only.

    With ``bound``, a lower bound of the cycles instead, without :func:`_overlap_saving`: the cycles
    themselves where the transfers do not overlap; where they do, the larger of the passes and the
    transfers, each with the passes' accepting cycles."""
    L, U, S, C = lay.L, lay.U, lay.S, lay.L.C
    h, qt = lay.h, q * lay.t
    lookahead = uses_lookahead(L, q, pts["ifmap_spad_depth"])
    acc = {key: 0 for key in ACCESS_KEYS} if counts else None
    n_filter_blocks = _ceil_div(L.M, p)
    # The last pass of a tile: its filter rows and channels; whether a tile has one pass only.
    last_h, last_c = L.R - (_ceil_div(L.R, h) - 1) * h, C - (_ceil_div(C, qt) - 1) * qt
    single = (_ceil_div(L.R, h) == 1) & (_ceil_div(C, qt) == 1)

    ps, n_p = _class_axis(p, L.M, "p")
    eb, n_e = _class_axis(e, lay.E, "e")
    fb, n_f = _class_axis(f, lay.F, "f")
    ha, n_h = _class_axis(h, L.R, "h")
    cb, n_c = _class_axis(qt, C, "c")
    psums = eb * ps
    block = n_p * n_e * n_f
    n = block * n_h * n_c
    nstream = (eb - 1) * np.minimum(U, ha) + ha
    # Each tile's first pass (full fold, first channel block) reads no psums from the GLB; its last (last fold,
    # last channel block) drains; a tile of one pass does both.
    first_kind = (ha == h) & (cb == np.minimum(qt, C))
    last_kind = (ha == last_h) & (cb == last_c)
    firsts, lasts = np.where(first_kind, block, 0), np.where(last_kind, block, 0)
    both = np.where(first_kind & last_kind & single, block, 0)
    weight_words = filter_words(cb, ps, q, S, h, ha, pts["filter_lanes"])
    beats, _ = ifmap_feed(cb, q, lay.vi)
    passes = _total(n)
    loads = _total(n * (3 + _transfer(weight_words, pts)))
    kinds = np.concatenate(np.broadcast_arrays(n - firsts - lasts + both, firsts - both, lasts))
    cycles = _total(kinds * _pass_cycles(lay, pts, p=ps, q=q, beats=beats, ha=ha, eb=eb, fb=fb, weights=weight_words,
                                         wide=wide, overlap=overlap, first=_KIND_FIRST, drain=_KIND_DRAIN,
                                         lookahead=lookahead))
    if counts:
        # The tile's draining pass: its sums go off chip, not to the GLB, and the first reads no psums.
        acc["dram.write"] = _total(block * drain_words(p=ps, cols=eb, F=fb, wide=wide, lanes=pts["psum_lanes"],
                                                       vp=lay.vp))
        for key in ("glb.write", "glb.read", "array.psum_in"):
            acc[key] = -_total(block * fb * psums)
        macs = ha * eb * ps * cb * S * fb
        active_rows = _ceil_div(cb, q) * ha
        streamed = lay.values_per_row(fb)
        for key, value in (
                ("dram.read", weight_words), ("glb.write", weight_words + fb * psums),
                ("glb.read", weight_words + fb * psums),
                ("array.ifmap_bus", beats * nstream * streamed),
                ("array.filter_bus", weight_words), ("array.psum_in", fb * psums),
                ("array.psum_out", fb * psums), ("spad.ifmap_read", macs),
                ("spad.filter_read", macs), ("spad.psum_write", macs), ("macs", macs),
                ("spad.ifmap_write", cb * eb * ha * streamed),
                ("spad.filter_write", active_rows * ps * q * S * eb),
                ("spad.psum_read", macs - active_rows * psums * fb + fb * psums * active_rows)):
            acc[key] = acc[key] + _total(n * value)

    # The ifmap rows each pass loads depend on where its output-row block lies, and the words of each row on
    # where its width tile lies: summed over blocks (axis 0), tiles (axis 1) and folds, once per word row (and,
    # for the GLB reads, per beat of a stream position) of the channel blocks, and per filter block.
    full_c, rest_c = C // qt, C % qt
    block_beats, block_rows = (full * full_c + np.where(rest_c > 0, rest, 0) for full, rest in
                               zip(ifmap_feed(qt, q, lay.vi), ifmap_feed(np.maximum(rest_c, 1), q, lay.vi)))
    folds = _ceil_div(L.R, h)
    w, n_w, tile_cols, row_words, row_cycles = (np.stack(column)[None]
                                                 for column in zip(*_width_tiles(lay, pts, f)))
    row_blocks = _edge_kinds(_ceil_div(lay.E, e), L.padding + 2)
    e0 = np.stack([b for b, _ in row_blocks])[:, None] * e
    in_kind = np.stack([count for _, count in row_blocks])[:, None]
    block_e = np.clip(lay.E - e0, 0, e)
    reads = 0
    for fold in range(int(folds.max())):
        r0 = fold * h
        ha = np.minimum(h, L.R - r0)
        y_pad = e0 * U + r0
        y_first = np.maximum(0, y_pad - L.padding)
        y_end = np.minimum(L.H, y_pad - L.padding + (block_e - 1) * U + ha)
        n_rows = np.maximum(0, y_end - y_first)
        weight = in_kind * (fold < folds) * n_filter_blocks * block_rows * n_w
        reads = reads + _total(weight * _ifmap_reads(lay, pts, n_rows, row_cycles, f))
        if counts:
            words = _total(weight * n_rows * row_words)
            acc["dram.read"] = acc["dram.read"] + words
            acc["glb.write"] = acc["glb.write"] + words
            lo = L.padding - y_pad
            inside = _stream_rows_inside(lo, lo + L.H, block_e, ha, U)
            acc["glb.read"] = acc["glb.read"] + _total(in_kind * (fold < folds) * n_filter_blocks * block_beats * n_w
                                                       * inside * lay.inside_values(w * f * U, tile_cols))
    if bound:
        # Each pair of consecutive passes saves at most the later one's transfers and at most the earlier
        # pass, so an overlapped schedule takes at least its passes, or its transfers, and an accepting
        # cycle per pass; without overlap the cycles are exact.
        return np.where(overlap, np.maximum(cycles + passes, loads + reads), cycles + loads + reads), None
    cycles = cycles + loads + reads
    rows = np.flatnonzero(overlap)
    if rows.size:
        part = {name: values[rows] for name, values in pts.items()}
        saving = _overlap_saving(LayerTable(L, part), part, p[rows], q[rows], e[rows], f[rows], wide[rows])
        cycles = cycles.copy()
        cycles[rows] -= saving
    return cycles, acc


class _Run:
    """A run of consecutive passes, summarized for the overlap: the transfer cycles of its first pass, the
    cycles of its last, and the sum over its consecutive pairs of ``min(pass k, transfers of pass k+1)``
    (arrays over points; ``present`` where the run has a pass)."""

    def __init__(self, first_transfers, last_pass, saving, present):
        self.first_transfers, self.last_pass, self.saving, self.present = first_transfers, last_pass, saving, present

    @classmethod
    def of(cls, pass_cycles, transfers, count):
        """``count`` passes alike."""
        return cls(transfers, pass_cycles, np.maximum(count - 1, 0) * np.minimum(pass_cycles, transfers), count > 0)

    def then(self, other: "_Run") -> "_Run":
        joint = np.where(self.present & other.present, np.minimum(self.last_pass, other.first_transfers), 0)
        return _Run(np.where(self.present, self.first_transfers, other.first_transfers),
                    np.where(other.present, other.last_pass, self.last_pass), self.saving + other.saving + joint,
                    self.present | other.present)

    def __getitem__(self, index) -> "_Run":
        values = (self.first_transfers, self.last_pass, self.saving, self.present)
        shape = np.broadcast_shapes(*(np.shape(value) for value in values))
        return _Run(*(np.broadcast_to(value, shape)[index] for value in values))

    def times(self, count) -> "_Run":
        joint = np.maximum(count - 1, 0) * np.minimum(self.last_pass, self.first_transfers)
        return _Run(self.first_transfers, self.last_pass, np.where(self.present, count * self.saving + joint, 0),
                    self.present & (count > 0))


def _overlap_saving(lay: LayerTable, pts: dict, p, q, e, f, wide):
    """Cycles the overlap saves: over each pair of consecutive passes, ``min(pass k, transfers of pass k+1)``
    (pass k's cycles after its accepting one, and the commands of pass k+1's reads, which run beside it).

    The passes are visited in the schedule's order as runs of alike passes (filter blocks, output-row blocks
    and width tiles with the edge ones one by one, folds, channel blocks), joined with :class:`_Run`. The
    runs' cycles and transfers are computed at once, one array axis each: the four channel-block parts of
    a fold, the folds, the width tiles, the two filter-block sizes, the output-row blocks, the points.
    """
    L, U, S, C = lay.L, lay.U, lay.S, lay.L.C
    h, qt = lay.h, q * lay.t
    lookahead = uses_lookahead(L, q, pts["ifmap_spad_depth"])
    n_blocks, folds = _ceil_div(lay.E, e), _ceil_div(L.R, h)
    full_c, rest_c = C // qt, C % qt
    n_channel_blocks = _ceil_div(C, qt)
    tiles = list(_width_tiles(lay, pts, f))
    n_folds = int(folds.max())
    row_blocks = _edge_kinds(n_blocks, L.padding + 2)

    def axes(values, at):   # values (one per entry of axis ``at``, each over the points) on the six axes
        stacked = np.stack(np.broadcast_arrays(*values))
        return stacked.reshape((1,) * at + (len(values),) + (1,) * (4 - at) + stacked.shape[1:])

    fold = np.arange(n_folds).reshape(1, -1, 1, 1, 1, 1)
    in_fold, last_fold = (fold < folds).astype(np.int64), fold == folds - 1
    ha = np.maximum(np.minimum(h, L.R - fold * h), 1)
    # The parts of a fold: its first channel block, the middle ones (not draining, draining), the rest block;
    # the tile's draining pass is the last channel block of the last fold.
    middle = in_fold * np.maximum(full_c - 1, 0)
    middle_drains = (last_fold & (rest_c == 0) & (full_c >= 2)).astype(np.int64)
    channels = axes([np.minimum(qt, C), qt, qt, np.maximum(rest_c, 1)], 0)
    first = np.concatenate(np.broadcast_arrays(fold == 0, False, False, False))
    drain = np.concatenate(np.broadcast_arrays(last_fold & (n_channel_blocks == 1), False, True, last_fold))
    count = np.concatenate(np.broadcast_arrays(in_fold, middle - middle_drains, middle_drains,
                                               in_fold * (full_c > 0) * (rest_c > 0)))
    tile_cols, row_cycles = (axes([tile[index] for tile in tiles], 2) for index in (2, 4))
    ps = axes([p, np.maximum(L.M % p, 1)], 3)
    eb_last = np.clip(lay.E - (n_blocks - 1) * e, 1, e)
    e0 = axes([b * e for b, _ in row_blocks], 4)
    last = axes([b == n_blocks - 1 for b, _ in row_blocks], 4)

    weights = filter_words(channels, ps, q, S, h, ha, pts["filter_lanes"])
    beats, word_rows = ifmap_feed(channels, q, lay.vi)
    # The passes' cycles on the two output-row block sizes (axis 4: full, last), then per row block.
    cycles = _pass_cycles(lay, pts, p=ps, q=q, beats=beats, ha=ha, eb=axes([e, eb_last], 4), fb=tile_cols,
                          weights=weights, wide=wide, overlap=True, first=first, drain=drain, lookahead=lookahead)
    cycles = np.where(last, cycles[..., 1:2, :], cycles[..., 0:1, :])
    y_pad = e0 * U + fold * h
    rows_end = y_pad - L.padding + (np.where(last, eb_last, e) - 1) * U + ha
    n_rows = np.maximum(0, np.minimum(L.H, rows_end) - np.maximum(0, y_pad - L.padding))
    transfers = 2 + _transfer(weights, pts) + word_rows * _ifmap_reads(lay, pts, n_rows, row_cycles, f)
    runs = _Run.of(cycles, transfers, count)

    run = None
    for t, (_, n_w, *_) in enumerate(tiles):
        tile_run = None
        for fold_index in range(n_folds):
            for part in range(4):
                step = runs[part, fold_index, t]
                tile_run = step if tile_run is None else tile_run.then(step)
        tile_run = tile_run.times(n_w)
        run = tile_run if run is None else run.then(tile_run)
    # The output-row blocks in order, each on both filter-block sizes at once (axis 0: full, rest; axis 1:
    # the block).
    blocks = run.times(np.stack([n for _, n in row_blocks]))
    run = blocks[:, 0]
    for k in range(1, len(row_blocks)):
        run = run.then(blocks[:, k])
    full_p, rest_p = L.M // p, L.M % p
    run = run[0].times(full_p).then(run[1].times((rest_p > 0).astype(np.int64)))
    return run.saving


def mapping_costs(layer: ConvLayer, points: dict, *, p, q, e, f=None, wide, overlap) -> tuple[np.ndarray, dict]:
    """Cycles and access counts of the schedule of one given mapping on every point (it must fit; no search).

    ``p``, ``q``, ``e``, ``f`` (default: whole output rows, ``F``), ``wide`` and ``overlap`` are scalars or
    arrays over the points.
    """
    pts = {name: np.asarray(points[name], dtype=np.int64) for name in POINT_FIELDS}
    size = len(pts["rows"])
    f = layer.F if f is None else f
    p, q, e, f = (np.broadcast_to(np.asarray(v, dtype=np.int64), (size,)) for v in (p, q, e, f))
    wide, overlap = (np.broadcast_to(np.asarray(v, dtype=bool), (size,)) for v in (wide, overlap))
    return _distinct_costs(layer, pts, np.arange(size), p, q, e, f, wide, overlap)


#: The point fields that decide which mappings fit the GLB (:meth:`LayerTable.fits_in`).
FIT_FIELDS = ("rows", "cols", "glb_words", "bank_depth", "psum_lanes", "filter_lanes", "glb_word_bits", "act_bits",
              "psum_bits")

#: The point fields the cost of a given mapping reads (the others only decide which mappings fit): points
#: alike in these cost a mapping alike (see :func:`_cost_classes`), so each distinct one is costed once.
COST_FIELDS = ("rows", "ifmap_spad_depth", "psum_lanes", "filter_lanes", "glb_word_bits", "act_bits", "psum_bits",
               "dram_bytes_per_cycle", "mac_latency", "accumulate_interval", "result_delay", "psum_read_span",
               "reduce_beside", "drain_latency")

#: Of :data:`COST_FIELDS`, those only a wide reduction reads (the lanes it runs on, and whether the PE adds
#: psums beside its MAC, which only a wide pass uses).
_WIDE_ONLY_FIELDS = ("psum_lanes", "reduce_beside")


#: :func:`_distinct` marks the codes in a table where their span is at most this many times the rows.
_DENSE_SPAN_PER_ROW = 16


def _distinct(columns: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Of the rows of the integer ``columns``: one index of each distinct row, and each row's distinct-row
    number (the distinct rows in the order of their columns' values).

    The columns become one int64 code per row (renumbered densely where their spans' product would not
    fit); the distinct codes are marked in a table of the codes' span where that is small against the rows,
    else found by sorting."""
    code, span = np.zeros(columns[0].shape, dtype=np.int64), 1
    for column in columns:
        low, high = (int(column.min()), int(column.max())) if column.size else (0, 0)
        if high == low:
            continue
        if span * (high - low + 1) >= 2 ** 62:
            code = np.unique(code, return_inverse=True)[1].reshape(-1)
            span = int(code.max()) + 1
        code = code * (high - low + 1) + (column - low)
        span *= high - low + 1
    if span <= _DENSE_SPAN_PER_ROW * code.size:
        seen = np.zeros(span, dtype=bool)
        seen[code] = True
        number = np.cumsum(seen) - 1
        inverse = number[code]
        first = np.empty(int(number[-1]) + 1 if code.size else 0, dtype=np.int64)
        first[inverse] = np.arange(code.size)
        return first, inverse
    order = np.argsort(code)
    ordered = code[order]
    new = np.empty(code.size, dtype=bool)
    new[:1] = True
    np.not_equal(ordered[1:], ordered[:-1], out=new[1:])
    inverse = np.empty(code.size, dtype=np.int64)
    inverse[order] = np.cumsum(new) - 1
    return order[new], inverse


def _cost_classes(pts: dict) -> tuple[np.ndarray, np.ndarray]:
    """Each point's class of :data:`COST_FIELDS` as a narrow and as a wide pass reads them: points of one
    class cost a mapping of one reduction alike, given whether it streams with lookahead (the ifmap
    scratchpad's depth counts only through that). The off-chip bandwidth counts only up to a word a cycle:
    :func:`_transfer` and :func:`~quidam.mapping.model.drain_pace` saturate there."""
    fields = {name: pts[name] for name in COST_FIELDS if name != "ifmap_spad_depth"}
    fields["dram_bytes_per_cycle"] = np.minimum(pts["dram_bytes_per_cycle"], pts["glb_word_bits"] // 8)
    narrow = _distinct([values for name, values in fields.items() if name not in _WIDE_ONLY_FIELDS])[1]
    return narrow, _distinct(list(fields.values()))[1]


class _DistinctMappings:
    """Mappings (p, q, e, f, wide, overlap) on the points ``at`` (flat arrays), each distinct mapping,
    lookahead and :func:`_cost_classes` class costed once: :attr:`first` holds one entry of each,
    :attr:`inverse` each entry's distinct mapping."""

    def __init__(self, layer: ConvLayer, pts: dict, at, p, q, e, f, wide, overlap, number=None):
        """``number``: each entry's distinct (p, q, e, f, wide, overlap) where the caller knows it (a
        smaller code than the six columns)."""
        self.layer, self.pts, self.at = layer, pts, at
        self.mapping = (p, q, e, f, wide, overlap)
        narrow, wide_class = _cost_classes(pts)
        lookahead = uses_lookahead(layer, q, pts["ifmap_spad_depth"][at])
        mapping = ([p, q, e, f, wide.astype(np.int64), overlap.astype(np.int64)] if number is None else [number])
        self.first, self.inverse = _distinct([*mapping, lookahead.astype(np.int64),
                                              np.where(wide, wide_class[at], narrow[at])])

    def costs(self, distinct, *, counts: bool = False, bound: bool = False):
        """:func:`_costs` of the distinct mappings ``distinct`` (indices into :attr:`first`; whole output rows
        and width tiles apart: only the tiled ones have more than one width-tile kind)."""
        entries = self.first[distinct]
        cycles = np.empty(entries.size, dtype=np.int64)
        acc = {key: np.empty(entries.size, dtype=np.int64) for key in ACCESS_KEYS} if counts else None
        tiled = self.mapping[3][entries] < self.layer.F
        for group in (np.flatnonzero(~tiled), np.flatnonzero(tiled)):
            if group.size:
                rows = entries[group]
                part = {name: self.pts[name][self.at[rows]] for name in COST_FIELDS}
                cycles[group], found = _costs(LayerTable(self.layer, part), part,
                                              *(values[rows] for values in self.mapping), counts=counts, bound=bound)
                for key in acc or ():
                    acc[key][group] = found[key]
        return cycles, acc


def _distinct_costs(layer: ConvLayer, pts: dict, at, p, q, e, f, wide, overlap):
    """Cycles and access counts of the mappings (p, q, e, f, wide, overlap) on the points ``at``, each
    distinct one costed once (:class:`_DistinctMappings`)."""
    mappings = _DistinctMappings(layer, pts, at, p, q, e, f, wide, overlap)
    cycles, acc = mappings.costs(np.arange(mappings.first.size), counts=True)
    return cycles[mappings.inverse], {key: values[mappings.inverse] for key, values in acc.items()}


def _capacity(layer: ConvLayer, pts: dict) -> tuple[np.ndarray, np.ndarray]:
    """Per point, why the layer cannot map whatever the mapping (a key of :data:`FAILURES`, 0 if it may),
    in the mapper's order of checks (``mapper._check_capacities``), and the most channels a set can take
    (``q``; 0 where it cannot map)."""
    S = layer.S
    failure = np.where((S > pts["ifmap_spad_depth"]) | (S > pts["filter_spad_depth"]), 2, 0)
    if max(layer.F, layer.W, layer.H) > MAX_SIDE:
        failure = np.where(failure == 0, 3, failure)
    if layer.stride > MAX_STRIDE:
        failure[:] = 1
    q_max = np.minimum(np.minimum(pts["ifmap_spad_depth"] // S, pts["filter_spad_depth"] // S), layer.C)
    return failure, np.where(failure == 0, q_max, 0)


def _candidates(layer: ConvLayer, pts: dict, q_max) -> dict[str, np.ndarray]:
    """Every mapping the search considers on every point, as flat arrays (one entry per point and mapping,
    in the points' order): ``point``, ``p``, ``q``, ``e``, ``f``, ``wide``, ``overlap``, ``rank``, the
    mapping's place in the search's order (a tie goes to the lower rank), and ``number``, its distinct
    (p, q, e, f, wide, overlap)."""
    L, S = layer, layer.S
    # Every q of every point, then the four (p, reduction) candidates of each, in the search's order.
    point = np.repeat(np.arange(q_max.size), q_max)
    q = np.arange(point.size) - np.repeat(np.cumsum(q_max) - q_max, q_max) + 1
    p_max = np.minimum(np.minimum(pts["psum_spad_depth"][point], L.M), pts["filter_spad_depth"][point] // (q * S))
    balanced = _ceil_div(L.M, _ceil_div(L.M, p_max))
    lanes = pts["psum_lanes"][point] > 1
    other = p_max != balanced
    valid = np.stack([np.ones_like(lanes), lanes, other, other & lanes], axis=1).reshape(-1)
    point, q = np.repeat(point, 4)[valid], np.repeat(q, 4)[valid]
    p = np.stack([balanced, balanced, p_max, p_max], axis=1).reshape(-1)[valid]
    candidate = np.tile(np.arange(4), valid.size // 4)[valid]
    wide = candidate % 2 == 1
    # The largest e and f that fit, found once per distinct (p, q, reduction, FIT_FIELDS).
    fit_class = _distinct([pts[name] for name in FIT_FIELDS])[1]
    first, inverse = _distinct([p, q, wide.astype(np.int64), fit_class[point]])
    part = {name: pts[name][point[first]] for name in FIT_FIELDS}
    table, p_one, q_one, wide_one = LayerTable(layer, part), p[first], q[first], wide[first]
    e_max = np.minimum(L.E, part["cols"])
    e_rows = [_largest_e(table, part, p_one, q_one, wide_one, flag) for flag in (False, True)]
    f_tiles = [np.where(e_found < e_max, _largest_f(table, part, p_one, q_one, e_max, wide_one, flag), 0)
               for e_found, flag in zip(e_rows, (False, True))]
    # Each candidate in six variants: whole output rows with one data region (the largest e that fits), then
    # with two (overlapped transfers); the same number of row blocks, balanced (the fewest output rows per
    # block), with one region, then two; where the largest e is below min(E, cols), that many output rows in
    # width tiles (the widest that fit) with one region, then two. With the same e and f two regions are never
    # slower than one: one region is a candidate only where it holds more.
    e_balanced = [_ceil_div(L.E, _ceil_div(L.E, np.maximum(e_found, 1))) for e_found in e_rows]
    e_variants = np.stack([*e_rows, *e_balanced, e_max, e_max], axis=1)
    f_variants = np.stack([np.full_like(p_one, L.F)] * 4 + f_tiles, axis=1)
    kept = np.stack([(e_rows[0] > 0) & (e_rows[0] > e_rows[1]), e_rows[1] > 0,
                     (e_rows[0] > 0) & (e_balanced[0] < e_rows[0]) & (e_rows[0] > e_rows[1]),
                     (e_rows[1] > 0) & (e_balanced[1] < e_rows[1]),
                     (f_tiles[0] > 0) & (f_tiles[0] > f_tiles[1]), f_tiles[1] > 0], axis=1)
    # Each kept (shape, variant)'s distinct mapping, numbered once for the candidates that share it.
    shapes, variants = np.nonzero(kept)
    number = np.zeros(kept.shape, dtype=np.int64)
    number[shapes, variants] = _distinct([p_one[shapes], q_one[shapes], e_variants[shapes, variants],
                                          f_variants[shapes, variants], wide_one[shapes].astype(np.int64),
                                          variants % 2])[1]
    base, variant = np.nonzero(kept[inverse])
    shape = inverse[base]
    return {"point": point[base], "p": p[base], "q": q[base], "e": e_variants[shape, variant],
            "f": f_variants[shape, variant], "wide": wide[base], "overlap": variant % 2 == 1,
            "rank": (q[base] * 4 + candidate[base]) * 6 + variant, "number": number[shape, variant]}


def layer_performance(layer: ConvLayer, points: dict) -> LayerPerformance:
    """Map ``layer`` on every design point of ``points`` and count its cycles and accesses.

    Parameters
    ----------
    layer : ConvLayer
    points : dict
        :data:`POINT_FIELDS` -> int64 arrays of one length.

    Returns
    -------
    LayerPerformance
    """
    pts = {name: np.asarray(points[name], dtype=np.int64) for name in POINT_FIELDS}
    # Points that differ only in an off-chip bandwidth of a word a cycle or more map and cost alike
    # (:func:`_cost_classes`): each is searched once.
    alike = {**pts, "dram_bytes_per_cycle": np.minimum(pts["dram_bytes_per_cycle"], pts["glb_word_bits"] // 8)}
    first, inverse = _distinct(list(alike.values()))
    found = _layer_performance(layer, {name: values[first] for name, values in pts.items()})
    spread = lambda values: values[inverse]  # noqa: E731
    return LayerPerformance(cycles=spread(found.cycles),
                            accesses={key: spread(values) for key, values in found.accesses.items()},
                            p=spread(found.p), q=spread(found.q), e=spread(found.e), f=spread(found.f),
                            wide=spread(found.wide), overlap=spread(found.overlap), failure=spread(found.failure))


def _layer_performance(layer: ConvLayer, pts: dict) -> LayerPerformance:
    """:func:`layer_performance` on points given as int64 arrays."""
    n = len(pts["rows"])
    failure, q_max = _capacity(layer, pts)
    cand = _candidates(layer, pts, q_max)
    chosen = {name: np.zeros(n, dtype=np.int64) for name in ("p", "q", "e", "f", "wide", "overlap")}
    if cand["point"].size:
        won = _search(layer, pts, cand)
        for name, values in chosen.items():
            values[cand["point"][won]] = cand[name][won]
    mapped = chosen["e"] > 0
    failure = np.where((failure == 0) & ~mapped, 4, failure)
    safe = [np.where(mapped, chosen[name], 1) for name in ("p", "q", "e")]
    cycles, acc = _distinct_costs(layer, pts, np.arange(n), *safe, np.where(mapped, chosen["f"], layer.F),
                                  chosen["wide"] == 1, chosen["overlap"] == 1)
    zero = lambda values: np.where(mapped, values, 0).astype(np.int64)  # noqa: E731
    return LayerPerformance(cycles=zero(cycles), accesses={key: zero(acc[key]) for key in ACCESS_KEYS},
                            failure=failure, **chosen)


def _search(layer: ConvLayer, pts: dict, cand: dict) -> np.ndarray:
    """Of the candidates (:func:`_candidates`, in the points' order), the index of each point's winner: the
    fewest cycles, then the lowest rank (the search's order).

    Branch and bound: every distinct candidate gets a lower bound (``_costs(bound=True)``, the cost itself
    where the transfers do not overlap); per point, the one with the lowest bound is costed, then every
    candidate whose bound could still beat it (fewer cycles, or as many and a lower rank). The others
    cannot win, so the winner is what costing every candidate would find.
    """
    at, rank = cand["point"], cand["rank"]
    mappings = _DistinctMappings(layer, pts, at, *(cand[name] for name in ("p", "q", "e", "f", "wide", "overlap")),
                                 number=cand["number"])
    starts = np.flatnonzero(np.r_[True, at[1:] != at[:-1]])
    sizes = np.diff(np.r_[starts, at.size])
    # One key per (cycles, rank), unique within a point.
    scale = int(rank.max()) + 1

    def least(key):   # the entry of each point's smallest key
        return np.flatnonzero(key == np.repeat(np.minimum.reduceat(key, starts), sizes))

    distinct_bound = mappings.costs(np.arange(mappings.first.size), bound=True)[0]
    bound = distinct_bound[mappings.inverse] * scale + rank
    # Without overlap the bound is the cost itself.
    exact = np.where(cand["overlap"][mappings.first], -1, distinct_bound)
    leader = least(bound)
    needed = np.unique(mappings.inverse[leader])
    needed = needed[exact[needed] < 0]
    exact[needed] = mappings.costs(needed)[0]
    best = np.repeat(exact[mappings.inverse[leader]] * scale + rank[leader], sizes)
    needed = np.unique(mappings.inverse[(bound < best) & (exact[mappings.inverse] < 0)])
    exact[needed] = mappings.costs(needed)[0]
    known = exact[mappings.inverse]
    return least(np.where(known >= 0, known * scale + rank, np.iinfo(np.int64).max))
