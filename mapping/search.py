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
block) cuts the layer into blocks of at most two sizes along each of the four
loops (filters ``p`` / ``M mod p``, output rows ``e`` / ``E mod e``, filter
rows ``h`` / ``R mod h``, channels ``q*t`` / ``C mod q*t``). A pass's cycles
and counts depend only on its block sizes and on whether it is the first pass
of its psum tile, so the sum over passes is a sum over at most 16 size classes
times their counts, and a correction for the first passes. Only the ifmap
rows a pass loads depend on where its output-row block lies (padding clips the
blocks at the top and bottom of the map): the first and last
``padding + 2`` blocks are summed one by one, the blocks between them are all
unclipped and counted at once. Where the transfers overlap the passes
(two data regions), each pair of consecutive passes saves ``min(pass, next
pass's reads)``: the same runs of alike passes, visited in order
(:func:`_overlap_saving`).

The search: for every ``q`` in ``1..q_max``, two ``p`` (the balanced one,
``ceil(M / ceil(M / p_max))``, then the largest), the reduction (one column at a time, then wide on the psum
lanes where there are two or more), the largest ``e`` whose passes fit the
GLB with one data region, then with two, the fewest cycles winning and the first candidate winning a tie. Each loop step works on all
points at once, so a layer costs the same numpy work for 10 points as for
10,000.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from quidam.config import AcceleratorConfig
from quidam.workloads.layer import ConvLayer

from .commands import MAX_SIDE, MAX_STRIDE, CommandFormat
from .model import ACCESS_KEYS, pass_cycles, reduction_gap

__all__ = ["FAILURES", "POINT_FIELDS", "LayerPerformance", "LayerTable", "filter_groups", "filter_words",
           "layer_performance", "lookahead_ring", "mapping_costs", "point_table", "uses_lookahead"]

#: The per-point arrays :func:`layer_performance` reads (integers; ``glb_words``, ``bank_depth``,
#: ``psum_lanes`` and ``filter_lanes`` are :class:`~quidam.mapping.commands.CommandFormat`'s, the last
#: five the accelerator's latencies and reduction facts, ``Accelerator.timing``).
POINT_FIELDS = ("rows", "cols", "ifmap_spad_depth", "filter_spad_depth", "psum_spad_depth", "glb_words",
                "bank_depth", "psum_lanes", "filter_lanes", "glb_word_bits", "act_bits", "wt_bits", "psum_bits",
                "dram_bytes_per_cycle", "mac_latency", "accumulate_interval", "result_delay", "psum_read_span",
                "reduce_beside")

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
    p, q, e : numpy.ndarray
        The mapping chosen (0 where the layer does not map).
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
    return -(-a // b)


def filter_groups(channels, q, set_stride, set_rows, filter_lanes):
    """Groups of ``filter_lanes`` PE rows a pass loads filter words for (``Pass.filter_groups``; ints or
    arrays): the rows from the first to the last active one, ``ceil(channels / q)`` sets of ``set_stride``."""
    return _ceil_div((_ceil_div(channels, q) - 1) * set_stride + set_rows, filter_lanes)


def filter_words(channels, p, q, S, set_stride, set_rows, filter_lanes):
    """Filter words a pass loads, one per group and filter scratchpad entry of its ``p*q*S``."""
    return filter_groups(channels, q, set_stride, set_rows, filter_lanes) * p * q * S


def reduces_beside(pts, wide, overlap):
    """Whether a pass's next column computes while its reduction runs (``Pass.gap`` below the
    reduction): the PE adds psums beside its MAC, the tokens run on the psum lanes, and the ifmap feeder
    reads a data region in banks of its own (two regions)."""
    return (pts["reduce_beside"] == 1) & wide & overlap


def _pass_cycles(lay: "LayerTable", pts: dict, *, p, q, cb, ha, eb, weights, wide, overlap, ii, lookahead):
    """:func:`~quidam.mapping.model.pass_cycles` of a pass of ``p`` filters, ``cb`` channels, ``ha`` filter
    rows and ``eb`` output rows (arrays) that loads ``weights`` filter words."""
    S = lay.S
    slots = np.maximum(p, pts["accumulate_interval"])
    tokens = lay.groups(eb, pts, wide) * p
    nstream = (eb - 1) * np.minimum(lay.U, ha) + ha
    gap = reduction_gap(tokens=tokens, ii=ii, p=p, slots=slots, qs=q * S, mac_latency=pts["mac_latency"],
                        result_delay=pts["result_delay"], psum_read_span=pts["psum_read_span"],
                        beside=reduces_beside(pts, wide, overlap))
    return pass_cycles(rows=pts["rows"], filter_words=weights, F=lay.F,
                       compute=q * S * slots + pts["mac_latency"] + 1, first_feed=cb * nstream * S,
                       next_feed=cb * nstream * lay.n_next, tokens=tokens, ii=ii, result_delay=pts["result_delay"],
                       gap=gap, lookahead=lookahead)


def _transfer(words, pts):
    """:func:`~quidam.mapping.model.transfer_cycles` on arrays."""
    return np.maximum(words, _ceil_div(words * (pts["glb_word_bits"] // 8), pts["dram_bytes_per_cycle"]))


def _classes(size, total):
    """The two block sizes of a loop of ``total`` cut into blocks of ``size``: ((size, count), (rest, 0 or 1))."""
    full = total // size
    rest = total - full * size
    return ((size, full), (rest, (rest > 0).astype(np.int64)))


class LayerTable:
    """One layer on a table of points: its constants, the per-point words of a row of each tensor, and where
    a mapping's passes keep their data in the GLB (the layout the mapper builds)."""

    def __init__(self, layer: ConvLayer, pts: dict):
        self.L = layer
        self.E, self.F, self.U, self.S = layer.E, layer.F, layer.stride, layer.S
        word_bits = pts["glb_word_bits"]
        self.if_row_words = _ceil_div(layer.W, word_bits // pts["act_bits"])
        self.ps_row_words = _ceil_div(self.F, word_bits // pts["psum_bits"])
        self.n_next = min(layer.stride, layer.S)
        self.values_per_row = layer.S + (self.F - 1) * self.n_next
        self.inside_columns = self._inside_columns()
        self.h = np.minimum(layer.R, pts["rows"])
        self.t = pts["rows"] // self.h
        self.filter_lanes = pts["filter_lanes"]

    def _inside_columns(self) -> int:
        L = self.L
        U, S = L.stride, L.S
        columns = list(range(S)) + [max(U, S) + (f - 1) * U + k for f in range(1, self.F) for k in range(min(U, S))]
        return sum(1 for x in columns if 0 <= x - L.padding < L.W)

    def groups(self, e, pts, wide):
        """``mapping.mapper._Plan.groups`` on arrays."""
        return np.where(wide, _ceil_div(e, pts["psum_lanes"]), e)

    def data_base(self, p, e, pts, wide):
        """GLB word address after the psum tile of a pass of ``p`` filters and ``e`` output rows, where the
        pass keeps its filters and ifmap rows when it has one data region (``mapper._Plan``)."""
        lane_words = p * self.groups(e, pts, wide) * self.ps_row_words
        return np.where(wide, (pts["psum_lanes"] - 1) * pts["bank_depth"] + lane_words, p * e * self.ps_row_words)

    def data_words(self, p, q, e):
        """GLB words of the filters and ifmap rows of the largest pass of (p, q, e)."""
        L = self.L
        channels = np.minimum(q * self.t, L.C)
        rows = np.minimum(L.H, (e - 1) * L.stride + self.h)
        return (filter_words(channels, p, q, L.S, self.h, self.h, self.filter_lanes)
                + channels * rows * self.if_row_words)

    def fits(self, p, q, e, pts, wide):
        """Whether the passes of (p, q, e) fit the GLB with one data region after the psum tile (lane
        banks included)."""
        lane_words = p * self.groups(e, pts, wide) * self.ps_row_words
        need = self.data_base(p, e, pts, wide) + self.data_words(p, q, e)
        return (need <= pts["glb_words"]) & (~wide | (lane_words <= pts["bank_depth"]))

    def regions(self, p, q, e, pts, wide):
        """The two data regions of double buffering, each in banks of its own after the psum tile's (the
        transfers of the next pass fill one while the array reads the other): their GLB word addresses,
        and whether both fit."""
        depth = pts["bank_depth"]
        lane_words = p * self.groups(e, pts, wide) * self.ps_row_words
        tile_banks = np.where(wide, pts["psum_lanes"], _ceil_div(p * e * self.ps_row_words, depth))
        region = _ceil_div(self.data_words(p, q, e), depth) * depth
        first = tile_banks * depth
        fits = ((first + 2 * region <= pts["glb_words"]) & (~wide | (lane_words <= depth))
                & (tile_banks < pts["glb_words"] // depth))
        return first, first + region, fits


def _largest_e(lay: LayerTable, pts: dict, p, q, wide, overlap: bool):
    """The largest e in 1..min(E, cols) whose passes fit the GLB (0 where none does), with one data region or
    (``overlap``) two: a bisection on all points."""
    lo = np.zeros_like(p)
    hi = np.minimum(lay.E, pts["cols"])
    while True:
        active = lo < hi
        if not active.any():
            return lo
        mid = (lo + hi + 1) // 2
        fits = lay.regions(p, q, mid, pts, wide)[2] if overlap else lay.fits(p, q, mid, pts, wide)
        lo = np.where(active & fits, mid, lo)
        hi = np.where(active & ~fits, mid - 1, hi)


def _stream_rows_inside(lo, hi, e_blk, h_act, U):
    """Stream rows of a pass (``mapping.model._stream_rows``) with ``lo <= y < hi``."""
    dense = (e_blk - 1) * U

    def periodic(n):  # rows y < n (n <= dense) with y % U < h_act
        return (n // U) * np.minimum(h_act, U) + np.minimum(n % U, h_act)

    clip = lambda n: np.clip(n, 0, dense)  # noqa: E731
    span = dense + h_act
    tail = np.maximum(0, np.minimum(hi, span) - np.maximum(lo, dense))
    return np.maximum(0, periodic(clip(hi)) - periodic(clip(lo))) + tail


def _costs(lay: LayerTable, pts: dict, p, q, e, wide, overlap, counts: bool):
    """Cycles (and the access counts when ``counts``) of the schedule ``map_layer`` builds for (p, q, e, wide,
    overlap): the commands one after another, less :func:`_overlap_saving` where they overlap."""
    L, U, S, F, C = lay.L, lay.U, lay.S, lay.F, lay.L.C
    h, qt = lay.h, q * lay.t
    lookahead = uses_lookahead(L, q, pts["ifmap_spad_depth"])
    acc = {key: 0 for key in ACCESS_KEYS} if counts else None
    cycles = 0
    n_filter_blocks = _ceil_div(L.M, p)

    for ps, n_p in _classes(p, L.M):
        if not n_p.any():
            continue
        for eb, n_e in _classes(e, lay.E):
            if not n_e.any():
                continue
            psums = eb * ps
            block = n_p * n_e
            # DramWrite of the psum tile, one command per filter (one per psum row when wide).
            cycles = cycles + block * ps * np.where(wide, eb * (2 + _transfer(lay.ps_row_words, pts)),
                                                    2 + _transfer(eb * lay.ps_row_words, pts))
            if counts:
                words = block * ps * eb * lay.ps_row_words
                acc["dram.write"] = acc["dram.write"] + words
                acc["glb.read"] = acc["glb.read"] + words - block * F * psums
                acc["array.psum_in"] = acc["array.psum_in"] - block * F * psums
            for ha, n_h in _classes(h, L.R):
                if not n_h.any():
                    continue
                nstream = (eb - 1) * np.minimum(U, ha) + ha
                for cb, n_c in _classes(qt, C):
                    if not n_c.any():
                        continue
                    n = block * n_h * n_c
                    # The first pass of each tile (full fold, first channel block) reads no psums from the GLB.
                    firsts = np.where((ha == h) & (cb == np.minimum(qt, C)), block, 0)
                    weight_words = filter_words(cb, ps, q, S, h, ha, pts["filter_lanes"])
                    feed = cb * nstream * lay.values_per_row
                    later, first = (_pass_cycles(lay, pts, p=ps, q=q, cb=cb, ha=ha, eb=eb, weights=weight_words,
                                                 wide=wide, overlap=overlap, ii=ii, lookahead=lookahead)
                                    for ii in (2, 1))
                    cycles = cycles + n * (3 + _transfer(weight_words, pts) + later) - firsts * (later - first)
                    if counts:
                        macs = ha * eb * ps * cb * S * F
                        active_rows = _ceil_div(cb, q) * ha
                        for key, value in (
                                ("dram.read", weight_words), ("glb.write", weight_words + F * psums),
                                ("glb.read", weight_words + F * psums), ("array.ifmap_bus", feed),
                                ("array.filter_bus", weight_words), ("array.psum_in", F * psums),
                                ("array.psum_out", F * psums), ("spad.ifmap_read", macs),
                                ("spad.filter_read", macs), ("spad.psum_write", macs), ("macs", macs),
                                ("spad.ifmap_write", cb * eb * ha * lay.values_per_row),
                                ("spad.filter_write", active_rows * ps * q * S * eb),
                                ("spad.psum_read", macs - active_rows * psums * F + F * psums * active_rows)):
                            acc[key] = acc[key] + n * value

    # The ifmap rows each pass loads depend on where its output-row block lies: summed over blocks and folds,
    # once per channel (the channel blocks add up to C) and filter block.
    n_blocks = _ceil_div(lay.E, e)
    edge = L.padding + 2
    interior = np.maximum(0, n_blocks - 2 * edge)
    folds = _ceil_div(L.R, h)
    for fold in range(int(folds.max())):
        r0 = fold * h
        ha = np.minimum(h, L.R - r0)
        fold_ok = fold < folds
        for k in range(2 * edge + 1):
            if k < 2 * edge:
                b = k if k < edge else n_blocks - 2 * edge + k
                weight = (fold_ok & (b < n_blocks) & ((k < edge) | (b >= edge))).astype(np.int64)
            else:
                b, weight = np.full_like(n_blocks, edge), interior * fold_ok
            e0 = b * e
            eb = np.clip(lay.E - e0, 0, e)
            y_pad = e0 * U + r0
            y_first = np.maximum(0, y_pad - L.padding)
            y_end = np.minimum(L.H, y_pad - L.padding + (eb - 1) * U + ha)
            n_rows = np.maximum(0, y_end - y_first)
            weight = weight * n_filter_blocks * C
            words = n_rows * lay.if_row_words
            cycles = cycles + weight * np.where(n_rows > 0, 2 + _transfer(words, pts), 0)
            if counts:
                acc["dram.read"] = acc["dram.read"] + weight * words
                acc["glb.write"] = acc["glb.write"] + weight * words
                lo = L.padding - y_pad
                inside = _stream_rows_inside(lo, lo + L.H, eb, ha, U)
                acc["glb.read"] = acc["glb.read"] + weight * inside * lay.inside_columns
    rows = np.flatnonzero(overlap)
    if rows.size:
        part = {name: values[rows] for name, values in pts.items()}
        saving = _overlap_saving(LayerTable(L, part), part, p[rows], q[rows], e[rows], wide[rows])
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


def _overlap_saving(lay: LayerTable, pts: dict, p, q, e, wide):
    """Cycles the overlap saves: over each pair of consecutive passes, ``min(pass k, transfers of pass k+1)``
    (pass k's cycles after its accepting one, and the commands of pass k+1's reads, which run beside it).

    The passes are visited in the schedule's order as runs of alike passes (filter blocks, output-row blocks
    with the edge blocks one by one, folds, channel blocks), joined with :class:`_Run`.
    """
    L, U, S, F, C = lay.L, lay.U, lay.S, lay.F, lay.L.C
    h, qt = lay.h, q * lay.t
    lookahead = uses_lookahead(L, q, pts["ifmap_spad_depth"])
    n_blocks, folds = _ceil_div(lay.E, e), _ceil_div(L.R, h)
    edge = L.padding + 2
    full_c, rest_c = C // qt, C % qt
    first_c = np.minimum(qt, C)

    def pass_run(ps, eb, last, ha, cb, first, n_rows, count):
        # The pass's cycles on the two output-row block sizes (axis 1 of eb: full, last), then per block.
        weights = filter_words(cb, ps, q, S, h, ha, pts["filter_lanes"])
        cycles = _pass_cycles(lay, pts, p=ps, q=q, cb=cb, ha=ha, eb=eb, weights=weights, wide=wide, overlap=True,
                              ii=np.where(first, 1, 2), lookahead=lookahead)
        cycles = np.where(last, cycles[:, 1:2], cycles[:, 0:1])
        transfers = (2 + _transfer(weights, pts)
                     + cb * np.where(n_rows > 0, 2 + _transfer(n_rows * lay.if_row_words, pts), 0))
        return _Run.of(cycles, transfers, count)

    def tile(ps, b):
        e0 = b * e
        eb_last = np.clip(lay.E - (n_blocks - 1) * e, 1, e)
        eb = np.stack([e, eb_last])[None]   # 1 x (full, last) x points
        last = b == n_blocks - 1
        run = None
        for fold in range(int(folds.max())):
            r0 = fold * h
            ha = np.maximum(np.minimum(h, L.R - r0), 1)
            y_pad = e0 * U + r0
            y_first = np.maximum(0, y_pad - L.padding)
            rows_end = y_pad - L.padding + (np.where(last, eb_last, e) - 1) * U + ha
            n_rows = np.maximum(0, np.minimum(L.H, rows_end) - y_first)
            in_fold = (fold < folds).astype(np.int64)
            parts = (pass_run(ps, eb, last, ha, first_c, fold == 0, n_rows, in_fold),
                     pass_run(ps, eb, last, ha, qt, False, n_rows, in_fold * np.maximum(full_c - 1, 0)),
                     pass_run(ps, eb, last, ha, np.maximum(rest_c, 1), False, n_rows,
                              in_fold * (full_c > 0) * (rest_c > 0)))
            for part in parts:
                run = part if run is None else run.then(part)
        return run

    # The output-row blocks in order: the first edge blocks, the interior ones (all alike), the last edge;
    # each block's tile on both filter-block sizes at once (axis 0: full, rest; axis 1: the block).
    blocks, counts = [], []
    for k in [*range(edge), None, *range(edge, 2 * edge)]:
        if k is None:
            blocks.append(np.full_like(n_blocks, edge))
            counts.append(np.maximum(0, n_blocks - 2 * edge))
        else:
            b = k if k < edge else n_blocks - 2 * edge + k
            blocks.append(np.maximum(b, 0) + np.zeros_like(n_blocks))
            counts.append(((b < n_blocks) & (b >= 0) & ((k < edge) | (b >= edge))).astype(np.int64))
    full_p, rest_p = L.M // p, L.M % p
    tiles = tile(np.stack([p, np.maximum(rest_p, 1)])[:, None], np.stack(blocks)).times(np.stack(counts))
    run = tiles[:, 0]
    for k in range(1, len(blocks)):
        run = run.then(tiles[:, k])
    run = run[0].times(full_p).then(run[1].times((rest_p > 0).astype(np.int64)))
    return run.saving


def mapping_costs(layer: ConvLayer, points: dict, *, p, q, e, wide, overlap) -> tuple[np.ndarray, dict]:
    """Cycles and access counts of the schedule of one given mapping on every point (it must fit; no search).

    ``p``, ``q``, ``e``, ``wide`` and ``overlap`` are scalars or arrays over the points.
    """
    pts = {name: np.asarray(points[name], dtype=np.int64) for name in POINT_FIELDS}
    size = len(pts["rows"])
    p, q, e = (np.broadcast_to(np.asarray(v, dtype=np.int64), (size,)) for v in (p, q, e))
    wide, overlap = (np.broadcast_to(np.asarray(v, dtype=bool), (size,)) for v in (wide, overlap))
    return _costs(LayerTable(layer, pts), pts, p, q, e, wide, overlap, counts=True)


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
    n = len(pts["rows"])
    L, S = layer, layer.S
    # The mapper's order of checks (mapper._check_capacities).
    failure = np.where((S > pts["ifmap_spad_depth"]) | (S > pts["filter_spad_depth"]), 2, 0)
    if max(layer.F, layer.W, layer.H) > MAX_SIDE:
        failure = np.where(failure == 0, 3, failure)
    if layer.stride > MAX_STRIDE:
        failure[:] = 1

    q_max = np.where(failure == 0, np.minimum(np.minimum(pts["ifmap_spad_depth"] // S, pts["filter_spad_depth"] // S),
                                              L.C), 0)
    best = np.full(n, np.iinfo(np.int64).max)
    best_p, best_q, best_e = (np.zeros(n, dtype=np.int64) for _ in range(3))
    best_wide, best_overlap = np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
    for q_value in range(1, int(q_max.max(initial=0)) + 1):
        # Each candidate is costed only on the points it applies to (q_max and p differ between points); the
        # four candidates of one q, in the search's order, are costed in one stacked evaluation.
        chosen = np.flatnonzero(q_value <= q_max)
        p_max = np.minimum(np.minimum(pts["psum_spad_depth"][chosen], L.M),
                           pts["filter_spad_depth"][chosen] // (q_value * S))
        balanced = _ceil_div(L.M, _ceil_div(L.M, p_max))
        lanes = pts["psum_lanes"][chosen] > 1
        other = p_max != balanced
        order = [(balanced, np.ones_like(lanes), False), (balanced, lanes, True),
                 (p_max, other, False), (p_max, other & lanes, True)]
        rows = [np.flatnonzero(mask) for _, mask, _ in order]
        take = np.concatenate(rows)
        if take.size == 0:
            continue
        # Each candidate twice: one data region (the largest e that fits), then two (overlapped transfers).
        index = np.tile(chosen[take], 2)
        part = {name: values[index] for name, values in pts.items()}
        p_all = np.tile(np.concatenate([p_values[r] for (p_values, _, _), r in zip(order, rows)]), 2)
        wide = np.tile(np.concatenate([np.full(r.size, flag) for (_, _, flag), r in zip(order, rows)]), 2)
        overlap = np.repeat([False, True], take.size)
        q = np.full(index.size, q_value)
        stacked = LayerTable(layer, part)
        single, double = (_largest_e(stacked, part, p_all, q, wide, flag) for flag in (False, True))
        e = np.where(overlap, double, single)
        # With the same e two regions are never slower than one: one region is costed only where it holds more.
        costed = np.flatnonzero((e > 0) & (overlap | (single > double)))
        cycles = np.full(index.size, np.iinfo(np.int64).max)
        if costed.size:
            sub = {name: values[costed] for name, values in part.items()}
            cycles[costed], _ = _costs(LayerTable(layer, sub), sub, p_all[costed], q[costed], e[costed],
                                       wide[costed], overlap[costed], counts=False)
        sizes = [r.size for r in rows]
        bounds = np.cumsum([0, *sizes])
        # The search's order: per candidate, one data region before two.
        for start, stop in zip(bounds[:-1], bounds[1:]):
            for shift in (0, take.size):
                part_slice = slice(start + shift, stop + shift)
                cand, cand_e, cand_cycles = index[part_slice], e[part_slice], cycles[part_slice]
                better = (cand_e > 0) & (cand_cycles < best[cand])
                won = cand[better]
                best[won], best_p[won], best_q[won], best_e[won] = (cand_cycles[better], p_all[part_slice][better],
                                                                    q_value, cand_e[better])
                best_wide[won] = wide[part_slice][better]
                best_overlap[won] = overlap[part_slice][better]
    mapped = best_e > 0
    failure = np.where((failure == 0) & ~mapped, 4, failure)
    safe = [np.where(mapped, value, 1) for value in (best_p, best_q, best_e)]
    cycles, acc = _costs(LayerTable(layer, pts), pts, *safe, best_wide & mapped, best_overlap & mapped, counts=True)
    zero = lambda values: np.where(mapped, values, 0).astype(np.int64)  # noqa: E731
    return LayerPerformance(cycles=zero(cycles), accesses={key: zero(acc[key]) for key in ACCESS_KEYS},
                            p=zero(best_p), q=zero(best_q), e=zero(best_e), wide=zero(best_wide & mapped),
                            overlap=zero(best_overlap & mapped), failure=failure)
