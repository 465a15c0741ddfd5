"""Fold a convolution layer into row-stationary passes and emit the schedule.

The folding (``docs/architecture.md``): ``h = min(R, rows)`` filter rows on PE
rows (``R > rows`` folds the filter rows into several passes), ``t = rows // h``
PE sets stacked down the array on ``t`` channel groups of ``q`` channels, up to
``cols`` output rows on the columns, ``p`` filters x ``q`` channels interleaved
in every PE's scratchpads. Loop nest, outer to inner: filter block (``p``
filters), output-row block, width tile (``f`` output columns, or whole rows),
filter-row fold, channel block (``q * t`` channels). The psum tile of a
(filter block, output-row block, width tile) stays in the GLB across its
folds and channel blocks; its last pass drains it, sending the final sums off
chip as it makes them (:class:`~quidam.mapping.schedule.OfmapBlock`); a width
tile holds only its window of each ifmap row.

The psum tile is reduced either one PE column at a time through the GLB's
word port (the tile at the bottom of the GLB, row ``(m, j)`` after row
``(m, j-1)``) or, wide, every column at once on the psum lanes: row
``(m, j)`` in bank ``j mod psum_lanes``, from entry 0 of the first
``psum_lanes`` banks, and the filters and ifmap rows after it in the last
lane's bank and the banks above. With two data regions (``overlap``), each in
banks of its own after the psum tile's, alternate passes keep their data in
alternate regions and each pass's reads run beside the pass before it.
Among the (p, q, output rows per block, width tile, reduction, data regions) that fit the
scratchpads and the GLB, :func:`map_layer` takes the one the analytical model
finds fastest: the search of
:func:`~quidam.mapping.search.layer_performance`, on this one design point.
"""

from __future__ import annotations

import functools
from math import ceil

import numpy as np

from quidam.config import AcceleratorConfig
from quidam.errors import QuidamError
from quidam.workloads.layer import ConvLayer

from .commands import MAX_SIDE, MAX_STRIDE, CommandFormat, DramRead, Pass
from .schedule import DramLayout, IfmapBlock, OfmapBlock, Schedule, WeightBlock
from .model import drain_pace, prefetches, reduction_gap, token_interval
from .search import (LayerTable, filter_groups, layer_performance, lookahead_ring, point_table,
                     reduces_beside, tile_x_first, uses_lookahead)

__all__ = ["MappingError", "accelerator_timing", "map_layer", "plan_layer"]


class MappingError(QuidamError):
    """The layer cannot be mapped onto the configuration; the message names the short capacity."""


@functools.lru_cache(maxsize=64)
def accelerator_timing(config: AcceleratorConfig) -> dict[str, int]:
    """``Accelerator(config).timing``: the latencies the RTL blocks report."""
    from quidam.rtl_gen.accelerator import Accelerator
    accelerator = Accelerator(config)
    # Built only to read its properties: tell Amaranth it is not a forgotten design.
    unused = [accelerator, accelerator.glb, accelerator.array, accelerator._controller]
    unused += [pe for row in accelerator.array.pes for pe in row]
    unused += [pe._mac for row in accelerator.array.pes for pe in row]
    for elaboratable in unused:
        elaboratable._MustUse__silence = True
    return accelerator.timing


def _check_capacities(layer: ConvLayer, config: AcceleratorConfig) -> None:
    if layer.stride > MAX_STRIDE:
        raise MappingError(f"{layer.name}: stride {layer.stride} exceeds the controller's largest stride "
                           f"{MAX_STRIDE}")
    if layer.S > config.ifmap_spad_depth:
        raise MappingError(f"{layer.name}: filter width S={layer.S} needs an ifmap scratchpad of at least {layer.S} "
                           f"entries (q*S with q >= 1), but ifmap_spad_depth is {config.ifmap_spad_depth}")
    if layer.S > config.filter_spad_depth:
        raise MappingError(f"{layer.name}: filter width S={layer.S} needs a filter scratchpad of at least "
                           f"{layer.S} entries (p*q*S with p, q >= 1), but filter_spad_depth is "
                           f"{config.filter_spad_depth}")
    if max(layer.F, layer.W, layer.H) > MAX_SIDE:
        raise MappingError(f"{layer.name}: ifmap and ofmap sides must be at most {MAX_SIDE}")


class _Plan:
    """The passes of one (p, q, e, wide, overlap, f) choice and where they keep their data in the GLB (``f``:
    output columns per width tile, default whole rows)."""

    def __init__(self, layer: ConvLayer, config: AcceleratorConfig, timing: dict, p: int, q: int, e: int,
                 wide: bool = False, overlap: bool = False, f: int | None = None):
        self.layer, self.config, self.timing = layer, config, timing
        self.p, self.q, self.e, self.wide, self.overlap = p, q, e, wide, overlap
        self.f = layer.F if f is None else f
        self.tiled = self.f < layer.F
        fmt = CommandFormat(config)
        self.lanes, self.bank_depth = fmt.psum_lanes, fmt.bank_depth
        self.lookahead = uses_lookahead(layer, q, config.ifmap_spad_depth)
        self.ring = lookahead_ring(layer) if self.lookahead else layer.S
        self.points = point_table([config], [timing])
        self._table = table = LayerTable(layer, self.points)
        self.h, self.t = int(table.h[0]), int(table.t[0])
        self.filter_lanes = fmt.filter_lanes
        self.vi = int(table.vi[0])
        self.row_words = int(table.row_words(self.f))
        self.ps_row_words = self.ps_words(self.f)
        self.vp = int(table.vp[0])
        self._regions = [int(base[0]) for base in table.regions(p, q, e, self.f, self.points, wide)[:2]]

    def blocks(self):
        """The psum tiles in order, ``(m0, p, e0, e_blk, f0, f_blk, passes)``, each with its passes' (r0,
        h_act, c0, c_blk)."""
        L, q_t = self.layer, self.q * self.t
        passes = [(r0, min(self.h, L.R - r0), c0, min(q_t, L.C - c0))
                  for r0 in range(0, L.R, self.h) for c0 in range(0, L.C, q_t)]
        for m0 in range(0, L.M, self.p):
            for e0 in range(0, L.E, self.e):
                for f0 in range(0, L.F, self.f):
                    yield m0, min(self.p, L.M - m0), e0, min(self.e, L.E - e0), f0, min(self.f, L.F - f0), passes

    def ps_words(self, f: int) -> int:
        """GLB words of a psum row of ``f`` output columns."""
        return int(self._table.ps_row_words(f)[0])

    def groups(self, e_blk: int) -> int:
        """Reduction tokens per filter and output column: column groups (wide) or columns."""
        return int(self._table.groups(e_blk, self.points, self.wide)[0])

    def data_base(self, index: int, p: int, e_blk: int) -> int:
        """GLB word address of pass ``index``'s filters (its ifmap rows follow them): the end of its psum
        tile, or with ``overlap`` the first or second data region, alternately."""
        if self.overlap:
            return self._regions[index % 2]
        return int(self._table.data_base(p, e_blk, self.f, self.points, self.wide)[0])

    def x_first(self, f0: int) -> int:
        """First unpadded ifmap column the GLB holds of each row for the width tile from output column ``f0``."""
        return int(tile_x_first(f0 * self.layer.stride, self.layer.padding))

    def row_reads(self, f0: int) -> int:
        """Words read off chip per ifmap row for the width tile from output column ``f0`` (tiled)."""
        return int(self._table.tile_reads(f0 // self.f, self.f))

    def fits(self) -> bool:
        """Whether the scratchpads hold the passes and the GLB their psum tile and data region(s)."""
        table, points, config = self._table, self.points, self.config
        if self.p * self.q * self.layer.S > config.filter_spad_depth or self.q * self.ring > config.ifmap_spad_depth:
            return False
        if self.p > config.psum_spad_depth:
            return False
        if self.tiled and self.f % int(table.tile_quantum[0]):
            return False
        return bool(table.fits_in(self.p, self.q, self.e, self.f, points, self.wide, self.overlap)[0])

    def smallest_need(self) -> int:
        """GLB words up to the end of the data of the smallest pass there is: (p, q, e) = (1, 1, 1), in the
        narrowest width tile."""
        table, points = self._table, self.points
        f = np.minimum(self.layer.F, table.tile_quantum)
        return int((table.data_base(1, 1, f, points, False) + table.data_words(1, 1, 1, f))[0])


def _ifmap_rows(plan: _Plan, e0: int, e_blk: int, r0: int, h_act: int) -> tuple[int, int]:
    """First unpadded ifmap row a pass reads and how many rows it loads (0 when all are padding)."""
    L = plan.layer
    y_pad = e0 * L.stride + r0
    y_first = max(0, y_pad - L.padding)
    y_end = min(L.H, y_pad - L.padding + (e_blk - 1) * L.stride + h_act)
    return y_first, max(0, y_end - y_first)


def _pass(plan: _Plan, *, first, out: OfmapBlock | None, p, e0, e_blk, f0, f_blk, r0, h_act, c_blk, w_base,
          if_base, y_first, n_rows, ifmap: IfmapBlock) -> Pass:
    """Pass of the plan; ``out``: where it drains its tile (the tile's last pass), else None."""
    L, timing, config = plan.layer, plan.timing, plan.config
    U, S = L.stride, L.S
    slots = max(p, timing["accumulate_interval"])
    beside = reduces_beside(plan.points, plan.wide, plan.overlap)[0]
    chan_stride = n_rows * plan.row_words
    pace = drain_pace(word_bytes=config.glb_word_bits // 8, dram_bytes_per_cycle=config.dram_bytes_per_cycle)
    ii = token_interval(first=first, drain=out is not None, wide=plan.wide, overlap=plan.overlap, pace=pace)
    gap = reduction_gap(tokens=plan.groups(e_blk) * p, ii=ii, p=p, slots=slots, qs=plan.q * S,
                        mac_latency=timing["mac_latency"], result_delay=timing["result_delay"],
                        psum_read_span=timing["psum_read_span"], beside=beside)
    return Pass(
        first=int(first), drain=int(out is not None), out_addr=out.base if out else 0,
        prefetch=int(prefetches(first=first, drain=out is not None, wide=plan.wide, overlap=plan.overlap)),
        out_words=out.words if out else 0, ii=ii, p=p, q=plan.q, slots=slots, qs=plan.q * S,
        sets=ceil(c_blk / plan.q), set_stride=plan.h, set_rows=h_act, channels=c_blk, cols=e_blk,
        wide=int(plan.wide), groups=plan.groups(e_blk),
        S=S, U=U, lookahead=int(plan.lookahead), ring=plan.ring, pad=L.padding, H=L.H, W=L.W,
        F=f_blk, x0=f0 * U, x_first=plan.x_first(f0),
        n_first=S, inc_first=max(U, S), inc_first_mod=S % plan.ring,
        n_next=min(U, S), inc_next=U, inc_next_mod=min(U, S) % plan.ring, u_mod=min(U, S) % plan.ring,
        y_start=e0 * U + r0, y_first=y_first, y_span=(e_blk - 1) * U + h_act, y_dense=(e_blk - 1) * U,
        w_base=w_base, filter_groups=filter_groups(c_blk, plan.q, plan.h, h_act, plan.filter_lanes),
        if_base=if_base, chan_stride=chan_stride, if_row_words=plan.row_words,
        set_lanes=ifmap.set_lanes, slot_words=ifmap.slot_words, if_groups=ifmap.groups,
        group_channels=ifmap.group_channels, group_stride=ifmap.slot_rows * chan_stride,
        gap=int(gap), ps_base=0, ps_row_words=plan.ps_row_words,
    )


def _build(plan: _Plan) -> Schedule:
    L, cfg = plan.layer, plan.config
    q_t = plan.q * plan.t
    ifmap_blocks, address = {}, 0
    for c0 in range(0, L.C, q_t):
        ifmap_blocks[c0] = IfmapBlock(base=address, c0=c0, channels=min(q_t, L.C - c0), q=plan.q, vi=plan.vi,
                                      H=L.H, W=L.W)
        address += ifmap_blocks[c0].words
    weight_base = address
    weight_blocks: dict[tuple[int, int, int], WeightBlock] = {}
    commands: list = []
    groups: list = []
    blocks = list(plan.blocks())
    # Weight blocks in first-use order, shared by every output-row block.
    address = weight_base
    for m0, p, e0, e_blk, f0, f_blk, passes in blocks:
        for r0, h_act, c0, c_blk in passes:
            if (m0, r0, c0) not in weight_blocks:
                block = WeightBlock(base=address, m0=m0, p=p, r0=r0, set_rows=h_act, c0=c0, channels=c_blk,
                                    q=plan.q, S=L.S, set_stride=plan.h, filter_lanes=plan.filter_lanes)
                weight_blocks[(m0, r0, c0)] = block
                address += block.words
    # With two data regions a pass's reads follow the pass before it and run beside it (no sync).
    sync, index, ofmap_blocks = int(not plan.overlap), 0, []
    for m0, p, e0, e_blk, f0, f_blk, passes in blocks:
        out = OfmapBlock(base=address, m0=m0, p=p, e0=e0, cols=e_blk, f0=f0, F=f_blk, wide=int(plan.wide),
                         lanes=plan.lanes, vp=plan.vp)
        ofmap_blocks.append(out)
        address += out.words
        for in_tile, (r0, h_act, c0, c_blk) in enumerate(passes):
            w_base = plan.data_base(index, p, e_blk)
            w_words = weight_blocks[(m0, r0, c0)].words
            if_base = w_base + w_words
            y_first, n_rows = _ifmap_rows(plan, e0, e_blk, r0, h_act)
            commands.append(DramRead(dram_addr=weight_blocks[(m0, r0, c0)].base, glb_addr=w_base, words=w_words,
                                     sync=sync))
            ifmap = ifmap_blocks[c0]
            if n_rows and not plan.tiled:
                for row in range(ifmap.word_rows):
                    commands.append(DramRead(
                        dram_addr=ifmap.base + (row * L.H + y_first) * L.W, glb_addr=if_base + row * n_rows * L.W,
                        words=n_rows * L.W, sync=sync))
            elif n_rows:   # each row's window
                x_first, words = plan.x_first(f0), plan.row_reads(f0)
                for row in range(ifmap.word_rows):
                    for y in range(n_rows):
                        commands.append(DramRead(
                            dram_addr=ifmap.base + (row * L.H + y_first + y) * L.W + x_first,
                            glb_addr=if_base + (row * n_rows + y) * plan.row_words, words=words, sync=sync))
            index += 1
            commands.append(_pass(plan, first=in_tile == 0, out=out if in_tile == len(passes) - 1 else None, p=p,
                                  e0=e0, e_blk=e_blk, f0=f0, f_blk=f_blk, r0=r0,
                                  h_act=h_act, c_blk=c_blk, w_base=w_base, if_base=if_base, y_first=y_first,
                                  n_rows=n_rows, ifmap=ifmap))
            if m0 == 0 and e0 == 0 and f0 == 0:
                for k in range(ceil(c_blk / plan.q)):
                    for r in range(h_act):
                        channels = range(c0 + k * plan.q, c0 + min((k + 1) * plan.q, c_blk))
                        groups.append([(c, r0 + r, s) for c in channels for s in range(L.S)])
    dram = DramLayout(
        ifmap_blocks=tuple(ifmap_blocks.values()), weight_base=weight_base,
        weight_blocks=tuple(weight_blocks.values()), ofmap_blocks=tuple(ofmap_blocks), words=address)
    choice = {"p": plan.p, "q": plan.q, "e": plan.e, "f": plan.f, "wide": int(plan.wide),
              "overlap": int(plan.overlap), "width_tiles": ceil(L.F / plan.f),
              "lookahead": int(plan.lookahead), "sets": plan.t,
              "filter_rows": plan.h, "filter_blocks": ceil(L.M / plan.p), "row_blocks": ceil(L.E / plan.e),
              "folds": ceil(L.R / plan.h), "channel_blocks": ceil(L.C / (plan.q * plan.t))}
    return Schedule(config=cfg, layer=L, commands=commands, dram=dram, timing=dict(plan.timing),
                    choice=choice, reduction_groups=groups)


def map_layer(layer: ConvLayer, config: AcceleratorConfig, *, timing: dict | None = None) -> Schedule:
    """The fastest schedule (by :func:`~quidam.mapping.model.evaluate`) for ``layer`` on ``config``.

    Raises :class:`MappingError`, naming the capacity, when nothing fits.
    The schedule lists every command and filter row, which for the largest
    fully connected layers is millions of objects; :func:`plan_layer` gives
    the choice and its cycles without building them.
    """
    return _build(_choose(layer, config, timing)[0])


def plan_layer(layer: ConvLayer, config: AcceleratorConfig, *, timing: dict | None = None) -> tuple[dict, int]:
    """The mapping choice :func:`map_layer` takes and its cycles, without building the schedule."""
    plan, cycles = _choose(layer, config, timing)
    return {"p": plan.p, "q": plan.q, "e": plan.e, "f": plan.f, "wide": int(plan.wide), "overlap": int(plan.overlap),
            "lookahead": int(plan.lookahead), "sets": plan.t, "filter_rows": plan.h}, cycles


def _choose(layer: ConvLayer, config: AcceleratorConfig, timing: dict | None) -> tuple[_Plan, int]:
    _check_capacities(layer, config)
    timing = timing or accelerator_timing(config)
    found = layer_performance(layer, point_table([config], [timing]))
    if not found.mapped[0]:
        smallest = _Plan(layer, config, timing, 1, 1, 1).smallest_need()
        raise MappingError(
            f"{layer.name}: the global buffer is too small: the smallest pass needs {smallest} words of "
            f"{config.glb_word_bits} bits (psum tile + filters + ifmap rows), glb_kib={config.glb_kib} holds "
            f"{CommandFormat(config).glb_words}")
    plan = _Plan(layer, config, timing, int(found.p[0]), int(found.q[0]), int(found.e[0]), bool(found.wide[0]),
                 bool(found.overlap[0]), int(found.f[0]))
    return plan, int(found.cycles[0])
