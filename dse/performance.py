"""The mapper and the analytical model, vectorized over design points.

:func:`layer_performance` gives, for one layer and a whole table of design
points at once (numpy arrays, one entry per point), what
:func:`~quidam.mapping.mapper.plan_layer` and
:func:`~quidam.mapping.model.evaluate` of
:func:`~quidam.mapping.mapper.map_layer` give for each point alone: the
mapping the mapper chooses, its cycles and its access counts, exactly
(``tests/test_dse.py`` compares the two on random points and real layers).

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
unclipped and counted at once.

The mapper's search is kept as it is: for every ``q`` in ``1..q_max``, the
``p`` of :func:`~quidam.mapping.mapper._candidates` (the balanced one, then
the largest), the largest ``e`` whose pass fits the GLB, the fewest cycles
winning and the first candidate winning a tie. Each loop step works on all
points at once, so a layer costs the same numpy work for 10 points as for
10,000.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from quidam.mapping.mapper import MAX_STRIDE
from quidam.mapping.model import ACCESS_KEYS
from quidam.workloads.layer import ConvLayer

__all__ = ["FAILURES", "POINT_FIELDS", "LayerPerformance", "layer_performance"]

#: The per-point arrays :func:`layer_performance` reads (integers; ``glb_words`` is the GLB's capacity in words,
#: the last three are the accelerator's latencies, ``Accelerator.timing``).
POINT_FIELDS = ("rows", "cols", "ifmap_spad_depth", "filter_spad_depth", "psum_spad_depth", "glb_words",
                "glb_word_bits", "act_bits", "wt_bits", "psum_bits", "dram_bytes_per_cycle",
                "mac_latency", "accumulate_interval", "result_delay")

#: Why a layer does not map, by the code in :attr:`LayerPerformance.failure` (0: it maps).
FAILURES = {
    1: f"stride above the controller's largest stride ({MAX_STRIDE})",
    2: "filter width S above the ifmap or filter scratchpad depth",
    3: "map sides above 4095",
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
    failure : numpy.ndarray
        0 where the layer maps, else a key of :data:`FAILURES`.
    """

    cycles: np.ndarray
    accesses: dict
    p: np.ndarray
    q: np.ndarray
    e: np.ndarray
    failure: np.ndarray

    @property
    def mapped(self) -> np.ndarray:
        return self.failure == 0


def _ceil_div(a, b):
    return -(-a // b)


def _transfer(words, pts):
    """:func:`~quidam.mapping.model.transfer_cycles` on arrays."""
    return np.maximum(words, _ceil_div(words * (pts["glb_word_bits"] // 8), pts["dram_bytes_per_cycle"]))


def _classes(size, total):
    """The two block sizes of a loop of ``total`` cut into blocks of ``size``: ((size, count), (rest, 0 or 1))."""
    full = total // size
    rest = total - full * size
    return ((size, full), (rest, (rest > 0).astype(np.int64)))


class _Layer:
    """Per-layer constants, and the per-point words of a row of each tensor."""

    def __init__(self, layer: ConvLayer, pts: dict):
        self.L = layer
        self.E, self.F, self.U, self.S = layer.E, layer.F, layer.stride, layer.S
        word_bits = pts["glb_word_bits"]
        self.if_row_words = _ceil_div(layer.W, word_bits // pts["act_bits"])
        self.w_row_words = _ceil_div(layer.S, word_bits // pts["wt_bits"])
        self.ps_row_words = _ceil_div(self.F, word_bits // pts["psum_bits"])
        self.values_per_row = layer.S + (self.F - 1) * min(layer.stride, layer.S)
        self.inside_columns = self._inside_columns()
        self.h = np.minimum(layer.R, pts["rows"])
        self.t = pts["rows"] // self.h

    def _inside_columns(self) -> int:
        L = self.L
        U, S = L.stride, L.S
        columns = list(range(S)) + [max(U, S) + (f - 1) * U + k for f in range(1, self.F) for k in range(min(U, S))]
        return sum(1 for x in columns if 0 <= x - L.padding < L.W)

    def glb_need(self, p, q, e):
        L = self.L
        channels = np.minimum(q * self.t, L.C)
        rows = np.minimum(L.H, (e - 1) * L.stride + self.h)
        return (p * e * self.ps_row_words + self.h * p * channels * self.w_row_words
                + channels * rows * self.if_row_words)


def _largest_e(lay: _Layer, pts: dict, p, q):
    """The largest e in 1..min(E, cols) whose pass fits the GLB (0 where none does): a bisection on all points."""
    lo = np.zeros_like(p)
    hi = np.minimum(lay.E, pts["cols"])
    while True:
        active = lo < hi
        if not active.any():
            return lo
        mid = (lo + hi + 1) // 2
        fits = lay.glb_need(p, q, mid) <= pts["glb_words"]
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


def _costs(lay: _Layer, pts: dict, p, q, e, counts: bool):
    """Cycles (and the access counts when ``counts``) of the schedule ``map_layer`` builds for (p, q, e)."""
    L, U, S, F, C = lay.L, lay.U, lay.S, lay.F, lay.L.C
    h, qt = lay.h, q * lay.t
    rows = pts["rows"]
    mac_latency, result_delay = pts["mac_latency"], pts["result_delay"]
    acc = {key: 0 for key in ACCESS_KEYS} if counts else None
    cycles = 0
    n_filter_blocks = _ceil_div(L.M, p)

    for ps, n_p in _classes(p, L.M):
        if not n_p.any():
            continue
        slots = np.maximum(ps, pts["accumulate_interval"])
        for eb, n_e in _classes(e, lay.E):
            if not n_e.any():
                continue
            tokens = eb * ps
            block = n_p * n_e
            # DramWrite of the psum tile, one command per filter.
            cycles = cycles + block * ps * (2 + _transfer(eb * lay.ps_row_words, pts))
            # The first pass of each tile reads no psums from the GLB (ii 1, not 2).
            cycles = cycles - block * F * (tokens - 1)
            if counts:
                words = block * ps * eb * lay.ps_row_words
                acc["dram.write"] = acc["dram.write"] + words
                acc["glb.read"] = acc["glb.read"] + words - block * F * tokens
                acc["array.psum_in"] = acc["array.psum_in"] - block * F * tokens
            for ha, n_h in _classes(h, L.R):
                if not n_h.any():
                    continue
                nstream = (eb - 1) * np.minimum(U, ha) + ha
                for cb, n_c in _classes(qt, C):
                    if not n_c.any():
                        continue
                    n = block * n_h * n_c
                    filter_values = ha * ps * cb * S
                    weight_words = ha * ps * cb * lay.w_row_words
                    feed = cb * nstream * lay.values_per_row
                    cycles = cycles + n * (
                        3 + _transfer(weight_words, pts) + rows + filter_values + feed
                        + F * (1 + q * S * slots + mac_latency + 1 + 2 * (tokens - 1) + result_delay + 2))
                    if counts:
                        macs = ha * eb * ps * cb * S * F
                        active_rows = _ceil_div(cb, q) * ha
                        for key, value in (
                                ("dram.read", weight_words), ("glb.write", weight_words + F * tokens),
                                ("glb.read", filter_values + F * tokens), ("array.ifmap_bus", feed),
                                ("array.filter_bus", filter_values), ("array.psum_in", F * tokens),
                                ("array.psum_out", F * tokens), ("spad.ifmap_read", macs),
                                ("spad.filter_read", macs), ("spad.psum_write", macs), ("macs", macs),
                                ("spad.ifmap_write", cb * eb * ha * lay.values_per_row),
                                ("spad.filter_write", filter_values * eb),
                                ("spad.psum_read", macs - active_rows * eb * ps * F + F * tokens * active_rows)):
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
    return cycles, acc


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
    failure = np.zeros(n, dtype=np.int64)
    if layer.stride > MAX_STRIDE:
        failure[:] = 1
    elif max(layer.F, layer.W, layer.H) > 4095:
        failure[:] = 3
    failure = np.where((failure == 0) & ((S > pts["ifmap_spad_depth"]) | (S > pts["filter_spad_depth"])), 2, failure)

    q_max = np.where(failure == 0, np.minimum(np.minimum(pts["ifmap_spad_depth"] // S, pts["filter_spad_depth"] // S),
                                              L.C), 0)
    best = np.full(n, np.iinfo(np.int64).max)
    best_p, best_q, best_e = (np.zeros(n, dtype=np.int64) for _ in range(3))
    for q_value in range(1, int(q_max.max(initial=0)) + 1):
        # Each candidate is costed only on the points it applies to (q_max and p differ between points).
        chosen = np.flatnonzero(q_value <= q_max)
        sub = {name: values[chosen] for name, values in pts.items()}
        p_max = np.minimum(np.minimum(sub["psum_spad_depth"], L.M), sub["filter_spad_depth"] // (q_value * S))
        balanced = _ceil_div(L.M, _ceil_div(L.M, p_max))
        for p, subset in ((balanced, slice(None)), (p_max, np.flatnonzero(p_max != balanced))):
            index, part = chosen[subset], {name: values[subset] for name, values in sub.items()}
            if index.size == 0:
                continue
            p, q = p[subset], np.full(index.size, q_value)
            sub_layer = _Layer(layer, part)
            e = _largest_e(sub_layer, part, p, q)
            cycles, _ = _costs(sub_layer, part, p, q, np.maximum(e, 1), counts=False)
            better = (e > 0) & (cycles < best[index])
            index = index[better]
            best[index], best_p[index], best_q[index], best_e[index] = cycles[better], p[better], q_value, e[better]
    mapped = best_e > 0
    failure = np.where((failure == 0) & ~mapped, 4, failure)
    safe = [np.where(mapped, value, 1) for value in (best_p, best_q, best_e)]
    cycles, acc = _costs(_Layer(layer, pts), pts, *safe, counts=True)
    zero = lambda values: np.where(mapped, values, 0).astype(np.int64)  # noqa: E731
    return LayerPerformance(cycles=zero(cycles), accesses={key: zero(acc[key]) for key in ACCESS_KEYS},
                            p=zero(best_p), q=zero(best_q), e=zero(best_e), failure=failure)
