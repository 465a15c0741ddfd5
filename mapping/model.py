"""The analytical model: cycles and access counts of a schedule, exactly as the RTL spends them.

Every command runs as a sequence of phases of closed-form length (see
:class:`~quidam.rtl_gen.controller.Controller`):

* every command: 1 cycle to accept it;
* ``DramRead`` of ``n`` words: 1 request cycle, then the beats; off-chip
  memory grants ``dram_bytes_per_cycle`` bytes of credit per cycle from the
  request on and a beat takes one word of credit, at most one beat per
  cycle, so beat ``k`` lands in cycle ``max(k, ceil(k * word_bytes /
  bandwidth))``;
* ``Pass``: ``rows`` configuration cycles, one cycle per filter word (a word
  per group of ``filter_lanes`` PE rows and filter scratchpad entry), 1 + the
  first column's ifmap feeder beats, then per output column a compute
  (``q*S*slots + mac_latency + 1``) and a reduction (:func:`reduction_cycles`:
  ``ii*(tokens-1) + result_delay + 1``, ``tokens = p * groups``: ``groups`` =
  columns, or column groups of ``psum_lanes`` on a wide reduction; ``ii`` the
  pass's :func:`token_interval`) that runs beside the next column's compute
  from ``Pass.gap`` cycles in (:func:`reduction_gap`); with ``lookahead`` the
  next column's values stream in during compute. A draining pass (the psum
  tile's last) sends its final sums off chip as they come and ends
  :func:`drain_tail` cycles after its last result. :func:`pass_cycles` has
  the closed form.

The commands overlap: transfers run on their own engine beside the pass the
array runs (see :func:`evaluate`), so a schedule's cycles are not the sum of
its commands'. The access counts are the events the testbench's monitors
count on the RTL.
"""

from __future__ import annotations

import functools
from collections import Counter
from dataclasses import dataclass
from math import ceil

import numpy as np

from quidam.config import AcceleratorConfig

from .commands import CommandFormat, DramRead, Pass

__all__ = ["ACCESS_KEYS", "Performance", "command_cycles", "drain_pace", "drain_span", "drain_tail", "drain_words",
           "evaluate", "mac_operations", "pass_cycles", "prefetches", "reduction_cycles", "reduction_gap",
           "token_interval", "transfer_cycles"]

#: The access counters, grouped by level.
ACCESS_KEYS = (
    "dram.read", "dram.write", "glb.read", "glb.write",
    "array.ifmap_bus", "array.filter_bus", "array.psum_in", "array.psum_out",
    "spad.ifmap_read", "spad.ifmap_write", "spad.filter_read", "spad.filter_write",
    "spad.psum_read", "spad.psum_write", "macs",
)


def mac_operations(*, macs, psum_out, rows, reduce_beside):
    """Operations of the PEs' MAC units in a run of ``macs`` MACs with ``psum_out`` psums leaving the array
    (``array.psum_out``; ints or arrays): the MACs, and where the PE adds the reduction's psums in its MAC
    (``reduce_beside`` 0 in ``Accelerator.timing``: FP32; integer PEs add in a psum adder of their own) each
    addition too: a reduction token's psum is added in every one of the ``rows`` PEs of its column on its way
    down, a PE that takes no part in the pass adding the identity (:class:`~quidam.rtl_gen.pe.PE`)."""
    return macs + np.where(np.asarray(reduce_beside) == 0, rows * psum_out, 0)


@dataclass(frozen=True)
class Performance:
    """What a schedule costs.

    Members
    -------
    cycles : int
    macs : int
    utilization : float
        ``macs / (cycles * rows * cols)``.
    accesses : dict
        ``ACCESS_KEYS`` -> count.
    """

    cycles: int
    macs: int
    utilization: float
    accesses: dict


def transfer_cycles(words: int, config: AcceleratorConfig) -> int:
    """Cycles from the first cycle after a request until its last off-chip beat, inclusive."""
    word_bytes = config.glb_word_bits // 8
    return max(words, ceil(words * word_bytes / config.dram_bytes_per_cycle))


def reduction_cycles(tokens, ii, result_delay):
    """Cycles of one column's reduction, from its first token to its last psum write, inclusive."""
    return ii * (tokens - 1) + result_delay + 1


def drain_pace(*, word_bytes, dram_bytes_per_cycle):
    """Cycles between the words a draining pass sends off chip: ``ceil(word_bytes / dram_bytes_per_cycle)``,
    so that no word waits for the off-chip memory's credit."""
    return -(-word_bytes // dram_bytes_per_cycle)


def token_interval(*, first, drain, wide, overlap, pace):
    """Cycles between a reduction's tokens (``Pass.ii``, ints or arrays).

    1 on a tile's first pass (the psums start from the identity) and on a prefetching one
    (:func:`prefetches`), 2 on a later narrow one (each token's initial psum is read from the
    single-ported bank its result is written to, on the odd cycles). A draining
    pass writes no result to the GLB: 1 when wide (a column's tokens wait in the drain FIFO), ``pace``
    (:func:`drain_pace`) when its column sums go ``vp`` to a word.
    """
    ahead = prefetches(first=first, drain=drain, wide=wide, overlap=overlap)
    ii = np.where(drain, np.where(wide, 1, pace), np.where(first | ahead, 1, 2))
    return int(ii) if np.ndim(ii) == 0 else ii


def _group_words(cols, lanes, vp):
    """Words of one filter's tokens of a wide column: each group's valid lanes, ``vp`` to a word."""
    full, rest = cols // lanes, cols % lanes
    return full * -(-lanes // vp) + -(-rest // vp)


def drain_words(*, p, cols, F, wide, lanes, vp):
    """Off-chip words a draining pass writes (ints or arrays): ``F * p * cols`` sums, ``vp`` to a word
    (narrow), or each wide token's valid lanes in words of their own."""
    return np.where(wide, F * p * _group_words(cols, lanes, vp), -(-(F * p * cols) // vp))


def drain_span(*, drain, wide, p, cols, lanes, vp, pace, result_delay, drain_latency):
    """Cycles of a wide draining column's reduction, from its first token until its last word has left (0
    otherwise): its first sum after ``result_delay``, then ``drain_latency``, then its words every
    ``pace`` cycles."""
    if np.ndim(drain) == 0 and not drain:   # the search's non-draining passes: nothing to compute
        return 0
    words = p * _group_words(cols, lanes, vp)
    return np.where(drain & wide, result_delay + drain_latency + 2 + (words - 1) * pace, 0)


def drain_tail(*, drain, wide, p, cols, F, vp, drain_latency):
    """Cycles a narrow draining pass runs after its last result (0 otherwise): ``drain_latency + 1``, and 1
    more when its last word is partly filled (flushed after the last result)."""
    if np.ndim(drain) == 0 and not drain:
        return 0
    extra = np.where((F * p * cols) % vp != 0, 1, 0)
    return np.where(drain & ~np.asarray(wide, dtype=bool), drain_latency + 1 + extra, 0)


def reduction_gap(*, tokens, ii, p, slots, qs, mac_latency, result_delay, psum_read_span, beside):
    """Cycles from a column's first reduction token to the next column's compute start (``Pass.gap``).

    ``beside`` (ints or arrays): the next column computes while the reduction runs (a psum adder of its own
    in each PE, tokens on the psum lanes, the ifmap feeder on banks of its own). Then the bottom PE row
    (``psum_read_span`` cycles after row 0) must read its last psum, ``p - 1``, before the next column's
    first MAC result overwrites it (``p + mac_latency`` cycles after the start) and before that column's
    first psum read (``slots`` cycles after the start, when ``qs >= 2``). Otherwise the whole reduction.
    """
    last_read = ii * (tokens - 1) + psum_read_span
    bound = np.where(qs >= 2, np.minimum(p + mac_latency, slots), p + mac_latency)
    return np.where(beside, np.maximum(0, last_read - bound), reduction_cycles(tokens, ii, result_delay))


def pass_cycles(*, rows, filter_words, F, compute, first_feed, next_feed, tokens, ii, result_delay, gap,
                lookahead, span, tail, prefetch):
    """Cycles of a ``Pass`` after its accepting cycle: the timing contract, on ints or numpy arrays alike.

    ``compute`` is one column's ``q*S*slots + mac_latency + 1``; ``first_feed`` and ``next_feed`` the ifmap
    feeder's beats for the first and for each later column; ``tokens`` the reduction tokens per column;
    ``gap`` the pass's :func:`reduction_gap`; ``span`` and ``tail`` its :func:`drain_span` and
    :func:`drain_tail`; ``prefetch``: whether each column's initial psums are read ahead of its reduction
    (:func:`prefetches`).
    """
    reduction = np.maximum(reduction_cycles(tokens, ii, result_delay), span)
    # A prefetching column reduces once its initial psums are in: read one token a cycle after the reduction
    # before it (the first column's from the feed's start on).
    between = reduction + np.where(prefetch, tokens + 2, 0)
    first_in = np.where(prefetch, tokens + 2, 0)
    # Column j > 0 ends max(gap + its compute (and feed), reduction of j - 1) after column j - 1.
    ahead = np.maximum(compute, next_feed + 1)
    first_column = 1 + first_feed + np.where(lookahead & (F >= 2), ahead, compute)
    later = np.where(lookahead,
                     np.where(F >= 2, np.maximum(F - 2, 0) * np.maximum(gap + ahead, between)
                              + np.maximum(gap + compute, between), 0),
                     (F - 1) * np.maximum(gap + 1 + next_feed + compute, between))
    return rows + filter_words + np.maximum(first_column, first_in) + later + reduction + tail


def prefetches(*, first, drain, wide, overlap):
    """Whether a pass reads each column's initial psums ahead of its reduction (``Pass.prefetch``, ints or
    arrays): a wide accumulating pass that does not drain, its data in banks of their own (two data
    regions: the reads run on the lane banks while the feeder reads). Its tokens then run every cycle
    (``Pass.ii`` = 1) from the drain FIFO, instead of every other cycle beside their result writes."""
    return (np.asarray(wide, dtype=bool) & np.asarray(overlap, dtype=bool) & ~np.asarray(first, dtype=bool)
            & ~np.asarray(drain, dtype=bool))


def _stream_rows(ps: Pass) -> list[int]:
    """The stream rows the ifmap feeder visits (rows some PE of a set needs)."""
    return [y for y in range(ps.y_span) if y >= ps.y_dense or y % ps.U < ps.set_rows]


def _feed_beats(ps: Pass) -> int:
    """Feeder beats per stream position: each word group's slots, one slot of each of its sets a beat."""
    return sum(min(ps.q, ps.channels - g * ps.group_channels) for g in range(ps.if_groups))


def _new_columns(ps: Pass, step: int) -> range:
    """Padded ifmap columns streamed in output column ``step``."""
    if step == 0:
        return range(0, ps.S)
    start = ps.inc_first + (step - 1) * ps.inc_next
    return range(start, start + ps.n_next)


@functools.lru_cache(maxsize=4096)
def _pass_costs(ps: Pass, rows: int, lanes: int, vp: int, pace: int, timing: tuple) -> tuple[int, tuple]:
    mac_latency, result_delay, drain_latency = timing
    stream_rows = _stream_rows(ps)
    tokens, psums = ps.groups * ps.p, ps.cols * ps.p
    values_per_step_row = ps.n_first + (ps.F - 1) * ps.n_next
    beats = _feed_beats(ps)
    feed_beats = beats * len(stream_rows) * values_per_step_row
    filter_words = ps.filter_groups * ps.p * ps.qs
    cycles = int(pass_cycles(rows=rows, filter_words=filter_words, F=ps.F, compute=ps.qs * ps.slots + mac_latency + 1,
                             first_feed=beats * len(stream_rows) * ps.n_first,
                             next_feed=beats * len(stream_rows) * ps.n_next, tokens=tokens, ii=ps.ii,
                             result_delay=result_delay, gap=ps.gap, lookahead=ps.lookahead,
                             span=drain_span(drain=ps.drain, wide=ps.wide, p=ps.p, cols=ps.cols, lanes=lanes, vp=vp,
                                             pace=pace, result_delay=result_delay, drain_latency=drain_latency),
                             tail=drain_tail(drain=ps.drain, wide=ps.wide, p=ps.p, cols=ps.cols, F=ps.F, vp=vp,
                                             drain_latency=drain_latency),
                             prefetch=ps.prefetch))

    # Words read from the GLB: each beat at a stream position inside the unpadded ifmap.
    inside_columns = sum(sum(1 for x in _new_columns(ps, f) if 0 <= ps.x0 + x - ps.pad < ps.W)
                         for f in range(ps.F))
    inside_rows = sum(1 for y in stream_rows if 0 <= ps.y_start + y - ps.pad < ps.H)
    multicast = sum(sum(1 for j in range(ps.cols) if 0 <= y - j * ps.U < ps.set_rows) for y in stream_rows)
    active_rows = ps.sets * ps.set_rows
    macs = ps.set_rows * ps.cols * ps.p * ps.channels * ps.S * ps.F
    counts = {
        "glb.read": filter_words + beats * inside_rows * inside_columns + (0 if ps.first else ps.F * psums),
        "glb.write": 0 if ps.drain else ps.F * psums,
        "dram.write": ps.out_words if ps.drain else 0,
        "array.ifmap_bus": feed_beats,
        "array.filter_bus": filter_words,
        "array.psum_in": 0 if ps.first else ps.F * psums,
        "array.psum_out": ps.F * psums,
        "spad.ifmap_read": macs, "spad.filter_read": macs, "spad.psum_write": macs,
        "spad.ifmap_write": ps.channels * multicast * values_per_step_row,
        "spad.filter_write": active_rows * ps.cols * ps.p * ps.qs,
        # Each MAC but a psum's first reads it back; each active PE reads every psum once more for its token.
        "spad.psum_read": macs - active_rows * psums * ps.F + ps.F * psums * active_rows,
        "macs": macs,
    }
    return cycles, tuple(sorted(counts.items()))


def _costs_of(ps: Pass, config: AcceleratorConfig, timing: dict) -> tuple[int, tuple]:
    pace = drain_pace(word_bytes=config.glb_word_bits // 8, dram_bytes_per_cycle=config.dram_bytes_per_cycle)
    return _pass_costs(ps, config.rows, CommandFormat(config).psum_lanes, config.glb_word_bits // config.psum_bits,
                       pace, (timing["mac_latency"], timing["result_delay"], timing["drain_latency"]))


def command_cycles(command, config: AcceleratorConfig, timing: dict) -> int:
    """Cycles the controller spends on ``command``, the accepting cycle included."""
    if isinstance(command, DramRead):
        return 1 + 1 + transfer_cycles(command.words, config)
    cycles, _ = _costs_of(command, config, timing)
    return 1 + cycles


def evaluate(schedule) -> Performance:
    """Cycles, MACs, utilization and per-level access counts of ``schedule``.

    The commands are dispatched in order, one per cycle at most: a pass when
    the array and the transfer engine are idle, a read when the transfer
    engine is idle (and the array, with ``sync``); each runs for its
    :func:`command_cycles` less the accepting cycle.
    """
    config, timing = schedule.config, schedule.timing
    dispatch = array_free = transfer_free = 0
    accesses = Counter({key: 0 for key in ACCESS_KEYS})
    for command in schedule.commands:
        run = command_cycles(command, config, timing) - 1
        if isinstance(command, Pass):
            accepted = max(dispatch, array_free, transfer_free)
            array_free = accepted + 1 + run
            _, counts = _costs_of(command, config, timing)
            accesses.update(dict(counts))
        else:
            accepted = max(dispatch, transfer_free, array_free if command.sync else 0)
            transfer_free = accepted + 1 + run
            accesses["dram.read"] += command.words
            accesses["glb.write"] += command.words
        dispatch = accepted + 1
    cycles = max(array_free, transfer_free)
    macs = accesses["macs"]
    return Performance(cycles=cycles, macs=macs, utilization=macs / (cycles * config.rows * config.cols),
                       accesses={key: accesses[key] for key in ACCESS_KEYS})
