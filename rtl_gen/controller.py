"""The controller: dispatches the schedule's commands, in order, to the transfer engine and the array.

Each command runs as a fixed sequence of phases whose lengths depend only on
the command's fields (and, for off-chip transfers, on when the off-chip side
grants beats). Off-chip reads run on their own engine, through the GLB's
transfer port, beside the pass the array is running; within a pass, each
column's reduction runs on the reducer beside the next column's compute, from
the pass's ``gap`` cycles in. The last pass of a psum tile drains: its final
sums leave through the off-chip write stream as the reducer makes them (a
packer, a FIFO of one wide column's tokens and a paced unpacker), not through
the GLB; on a prefetching pass the same FIFO holds each column's initial psums,
read ahead of its reduction. The dispatch rule
(:mod:`quidam.mapping.commands`) makes the order of events a function of the
commands alone, which :mod:`quidam.mapping.model` replays.
"""

from math import ceil

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.fifo import SyncFIFO
from amaranth.lib.wiring import In, Out

from quidam.config import AcceleratorConfig
from quidam.mapping.commands import DRAM_ADDR_BITS, OPCODE_BITS, OPCODES, CommandFormat, DramRead, Pass
from quidam.mapping.model import drain_pace

from .array_bus import ArrayBuses
from .pe import psum_identity

__all__ = ["Controller", "dram_command_layout"]


def dram_command_layout(config: AcceleratorConfig) -> data.StructLayout:
    """Payload of a read or write request to off-chip memory: word address and word count."""
    return data.StructLayout({"addr": DRAM_ADDR_BITS, "words": CommandFormat(config).glb_addr_bits + 1})


def _filled(value, bits: int):
    """``value`` repeated over a ``bits``-wide word (the write mask picks the psum's lane). Bits past the last
    whole psum repeat it too rather than being 0: a constant there would meet the transfer port's data in the
    GLB's bank multiplexers as a cell with both data inputs tied to 0 once the netlist is flattened, on which
    OpenSTA 2.0.17's report_power crashes."""
    return Cat(*[value] * -(-bits // len(value)))[:bits]


def _lane(word, lane, bits: int, lanes: int):
    """Lane ``lane`` (``bits`` wide) of ``word``."""
    return word.word_select(lane, bits) if lanes > 1 else word[:bits]


class Controller(wiring.Component):
    """Executes :class:`~quidam.mapping.commands.DramRead` and ``Pass`` commands.

    Parameters
    ----------
    config : AcceleratorConfig
    result_delay : int
        The PE array's :attr:`~quidam.rtl_gen.pe_array.PEArray.result_delay`.
    mac_latency : int
        The MAC latency, the tail of each compute phase.

    Members
    -------
    cmd : In(stream.Signature(command word))
        The schedule, one command word per beat (``CommandFormat.encode``).
    rd_cmd, rd_data, wr_cmd, wr_data : off-chip streams
        Read request (address, words) and its data beats; a draining pass's
        write request (issued as the pass starts) and its data beats.
    busy : Out(1)
        A command is executing on the transfer engine or the array (the
        cycle that accepts a command into an idle accelerator is not busy).
    glb_* : the global buffer's word port (the array's)
    dma_* : the global buffer's transfer port (writes of off-chip reads)
    rows_config, filters, ifmap, compute, token, psum_init : Out(...)
        The array buses.
    psum_out_valid, psum_out, psum_lanes_out : In(...)
        Column sums from the array (one column, or a wide token's group on the lanes).
    psum_lanes_init : Out(...)
        The initial psums of a wide token's group.
    psum_lanes_valid : Out(psum_lanes)
        The lanes of ``psum_lanes_out`` that are columns of the pass (a monitor).
    psum_in_lanes : Out(psum_lanes)
        The columns whose initial psum a token starting now takes from the GLB (a monitor).
    lane_* : the global buffer's psum lane ports
    drain_words : int
        Words of a wide token's sums on the write stream, ``ceil(psum_lanes / (word_bits // psum_bits))``.
    drain_entries : int
        Entries of the drain FIFO: a wide column's tokens (``psum_spad_depth * ceil(cols / psum_lanes)``),
        and at least the narrow tokens in flight at one a cycle, so that at the bandwidth the schedule's
        token interval allows for no token waits for room (only extra backpressure makes one wait); on a
        prefetching pass, a column's initial psums.
    drain_latency : int
        Cycles from a sum's arrival to its first word on the write stream (the FIFO and the unpacker);
        a narrow draining pass ends ``drain_latency + 1`` cycles after its last result, one more when
        its last word was partly filled (:func:`~quidam.mapping.model.drain_tail`).
    """

    def __init__(self, config: AcceleratorConfig, *, result_delay: int, mac_latency: int, glb_addr_bits: int,
                 glb_granularity: int):
        self._config, self._result_delay, self._mac_latency = config, result_delay, mac_latency
        self._format = CommandFormat(config)
        self._granularity = glb_granularity
        buses = ArrayBuses(config)
        word, lanes = config.glb_word_bits, self._format.psum_lanes
        lane_psums = data.ArrayLayout(config.psum_bits, lanes)
        super().__init__({
            "cmd": In(stream.Signature(self._format.width)),
            "rd_cmd": Out(stream.Signature(dram_command_layout(config))),
            "rd_data": In(stream.Signature(word)),
            "wr_cmd": Out(stream.Signature(dram_command_layout(config))),
            "wr_data": Out(stream.Signature(word)),
            "busy": Out(1),
            "glb_addr": Out(glb_addr_bits), "glb_rd_en": Out(1), "glb_rd_data": In(word),
            "glb_wr_en": Out(1), "glb_wr_mask": Out(word // glb_granularity), "glb_wr_data": Out(word),
            "dma_addr": Out(glb_addr_bits), "dma_wr_en": Out(1), "dma_wr_data": Out(word),
            "rows_config": Out(buses.rows_config), "filters": Out(buses.filters), "ifmap": Out(buses.ifmap),
            "compute": Out(buses.compute), "token": Out(buses.token), "psum_init": Out(config.psum_bits),
            "psum_out_valid": In(1), "psum_out": In(config.psum_bits), "psum_lanes_out": In(lane_psums),
            "psum_lanes_init": Out(lane_psums), "psum_lanes_valid": Out(lanes), "psum_in_lanes": Out(lanes),
            "lane_en": Out(1), "lane_entry": Out(range(config.glb_bank_depth)),
            "lane_rd_en": Out(lanes), "lane_wr_en": Out(lanes),
            "lane_wr_data": Out(data.ArrayLayout(word, lanes)), "lane_rd_data": In(data.ArrayLayout(word, lanes)),
        })

    @property
    def drain_words(self) -> int:
        return ceil(self._format.psum_lanes / (self._config.glb_word_bits // self._config.psum_bits))

    @property
    def drain_entries(self) -> int:
        config = self._config
        return max(config.psum_spad_depth * ceil(config.cols / self._format.psum_lanes), self._result_delay + 6)

    @property
    def drain_latency(self) -> int:
        return 2

    def _view(self, word, kind):
        layout = data.StructLayout(self._format.fields(kind))
        return data.View(layout, word[OPCODE_BITS:OPCODE_BITS + layout.size])

    def elaborate(self, platform):
        config, m = self._config, Module()
        word_bits, act, pb = config.glb_word_bits, config.act_bits, config.psum_bits
        vi, vp = word_bits // act, word_bits // pb
        lanes = self._format.psum_lanes

        # Dispatch, in order: a pass when the array and the transfer engine are idle, a read when the
        # transfer engine is idle (and the array too, for a read with its sync bit).
        array_idle, transfer_idle, accept_pass = Signal(), Signal(), Signal()
        opcode = self.cmd.payload[:OPCODE_BITS]
        is_pass = opcode == OPCODES[Pass]
        sync = self._view(self.cmd.payload, DramRead).sync
        m.d.comb += [
            self.cmd.ready.eq(Mux(is_pass, array_idle & transfer_idle, transfer_idle & (array_idle | ~sync))),
            accept_pass.eq(self.cmd.valid & self.cmd.ready & is_pass),
            self.busy.eq(~(array_idle & transfer_idle)),
        ]
        self._transfers(m, transfer_idle, self.cmd.valid & self.cmd.ready & ~is_pass)

        command = Signal(self._format.width)   # the pass the array runs
        ps = self._view(command, Pass)
        # Compute cycles of a column: q*S*slots + mac latency, q*S and slots at most a scratchpad depth each.
        compute_count = Signal(2 * len(self.compute.qs) + 1)

        # Pass loop state.
        i_row, k, r = Signal(6), Signal(6), Signal(6)
        cfg_group, cfg_lane = Signal(6), Signal(6)   # row i_row's set's word group and lane in it
        remaining = Signal(12)
        m_idx = Signal(11)
        row_word = Signal(len(self.glb_addr) + 1)
        filter_m_base, filter_cs = Signal(11), Signal(11)
        step, window_base = Signal(12), Signal(11)
        feed_go, feed_busy, feed_last = Signal(), Signal(), Signal()
        token_m, token_j = Signal(11), Signal(6)   # the reducer's
        token_lo, write_lo, write_g = Signal(7), Signal(7), Signal(6)   # first column of the token's / write's group
        token_addr, write_addr = Signal(len(self.glb_addr) + 1), Signal(len(self.glb_addr) + 1)
        tokens_issued, writes_done = Signal(17), Signal(17)

        # Registered bus beats (the GLB read returns one cycle after the address).
        fil_beat = Signal(self.filters.shape())
        if_beat = Signal(self.ifmap.shape())
        if_shift = Signal(range(max(vi, 2)))   # the beat's first lane in the GLB word
        if_zero, if_word = Signal(), Signal(word_bits)
        m.d.sync += [fil_beat.valid.eq(0), if_beat.valid.eq(0)]
        m.d.comb += [
            self.filters.eq(fil_beat),
            self.filters.data.eq(self.glb_rd_data[:len(self.filters.data.as_value())]),
            self.ifmap.eq(if_beat),
            self.ifmap.data.eq(Mux(if_zero, 0, if_word)),
        ]
        with m.Switch(if_shift):
            for shift in range(vi):
                with m.Case(shift):
                    m.d.comb += if_word.eq(self.glb_rd_data[shift * act:])

        # Compute bus: the pass's loop bounds, held while the pass runs.
        m.d.comb += self.token.wide.eq(ps.wide)
        m.d.comb += [
            self.compute.p.eq(ps.p), self.compute.q.eq(ps.q), self.compute.S.eq(ps.S),
            self.compute.slots.eq(ps.slots), self.compute.qs.eq(ps.qs), self.compute.U.eq(ps.U),
            self.compute.cols.eq(ps.cols), self.compute.ring.eq(ps.ring),
            self.compute.window_base.eq(window_base),
        ]

        # The reducer runs a column's reduction while the array goes on: `since` counts the cycles from its first
        # token (saturating), and the next column's compute (or, without lookahead, its feed) starts once it
        # reaches the pass's `gap`.
        reduce_go, reducer_free = Signal(), Signal()
        since = Signal(len(ps.gap) + 1)
        # `held`: a token of this reduction waited for room in the drain (extra off-chip backpressure); then the
        # next column waits for the whole reduction, whose psum reads `gap` no longer bounds.
        gap_open, held = Signal(), Signal()
        m.d.comb += gap_open.eq((since >= ps.gap) & (~held | reducer_free))
        with m.If(reduce_go):
            m.d.sync += since.eq(0)
        with m.Elif(~since.all()):
            m.d.sync += since.eq(since + 1)
        reduce_step = Signal.like(step)   # the output column being reduced

        psum_lane = Signal(range(max(vp, 2)))
        m.d.comb += psum_lane.eq(reduce_step % vp)
        identity = psum_identity(config)
        # A prefetching pass (``Pass.prefetch``) reads each column's initial psums ahead of its reduction into
        # the drain FIFO; its tokens take them from there, one a cycle.
        prefetch = ps.prefetch
        fetched = Signal(data.ArrayLayout(pb, lanes))   # the token's initial psums, one cycle after it
        m.d.comb += self.psum_init.eq(Mux(ps.first, identity, _lane(self.glb_rd_data, psum_lane, pb, vp)))
        for b in range(lanes):
            m.d.comb += self.psum_lanes_init[b].eq(
                Mux(ps.first, identity, Mux(prefetch, fetched[b], _lane(self.lane_rd_data[b], psum_lane, pb, vp))))

        # Column sums go to their lane of the psum word, in token order: one word (one column) through the word
        # port, or one word in each lane's bank (a wide token's group); on a draining pass, to the packer.
        psum_mask = Signal(len(self.glb_wr_mask))
        lane_bits = pb // self._granularity
        with m.Switch(psum_lane):
            for lane in range(vp):
                with m.Case(lane):
                    m.d.comb += psum_mask.eq(((1 << lane_bits) - 1) << (lane * lane_bits))
        m.d.comb += self.psum_lanes_valid.eq(self._lanes_below(write_lo, ps.cols, lanes))
        with m.If(self.psum_out_valid & ~ps.drain):
            with m.If(ps.wide):
                m.d.comb += [self.lane_en.eq(1), self.lane_entry.eq(write_addr), self.glb_wr_mask.eq(psum_mask),
                             self.lane_wr_en.eq(self.psum_lanes_valid)]
                m.d.comb += [self.lane_wr_data[b].eq(_filled(self.psum_lanes_out[b], word_bits)) for b in range(lanes)]
            with m.Else():
                m.d.comb += [self.glb_wr_en.eq(1), self.glb_addr.eq(write_addr), self.glb_wr_mask.eq(psum_mask),
                             self.glb_wr_data.eq(_filled(self.psum_out, word_bits))]
        with m.If(self.psum_out_valid):
            with m.If(ps.wide & (write_g == ps.groups - 1)):
                m.d.sync += [write_g.eq(0), write_lo.eq(0)]
            with m.Elif(ps.wide):
                m.d.sync += [write_g.eq(write_g + 1), write_lo.eq(write_lo + lanes)]
            m.d.sync += [write_addr.eq(write_addr + ps.ps_row_words), writes_done.eq(writes_done + 1)]

        # ---- the reducer: one token per (m, column or group), every `ii` cycles (on a draining pass, only
        # while the drain FIFO has room for every token in flight)
        tokens = ps.groups * ps.p
        token_wait = Signal.like(ps.ii)
        drain_room, flush, drained, pass_free, column_free = Signal(), Signal(), Signal(), Signal(), Signal()
        prefetched = Signal()   # the current column's initial psums are in the FIFO (prefetching pass)
        take = Signal()   # a prefetching token takes its entry from the FIFO
        # A wide draining column ends once its sums have left (the next one's then fit the drain FIFO), a
        # prefetching one once the next one's initial psums are in.
        m.d.comb += [pass_free.eq(reducer_free & (drained | ~(ps.drain & ps.wide))),
                     column_free.eq(pass_free & (prefetched | ~prefetch))]
        reducer_idle = Signal()
        with m.FSM(name="reducer"):
            with m.State("IDLE"):
                m.d.comb += [reducer_free.eq(1), reducer_idle.eq(1)]
                with m.If(reduce_go):
                    m.next = "RUN"
            with m.State("RUN"):
                issue, due = Signal(), Signal()
                m.d.comb += [due.eq((tokens_issued < tokens) & (token_wait == 0)), issue.eq(due & drain_room)]
                with m.If(due & ~drain_room):
                    m.d.sync += held.eq(1)
                with m.If(issue):
                    m.d.sync += token_wait.eq(ps.ii - 1)
                with m.Elif(token_wait != 0):
                    m.d.sync += token_wait.eq(token_wait - 1)
                with m.If(issue):
                    m.d.comb += [self.token.valid.eq(1), self.token.col.eq(token_j), self.token.m.eq(token_m),
                                 self.psum_in_lanes.eq(Mux(ps.first, 0, Mux(ps.wide,
                                                           self._lanes_below(token_lo, ps.cols, lanes), 1)))]
                    with m.If(prefetch):
                        m.d.comb += take.eq(1)
                    with m.Elif(~ps.first & ps.wide):
                        m.d.comb += [self.lane_en.eq(1), self.lane_entry.eq(token_addr),
                                     self.lane_rd_en.eq(self._lanes_below(token_lo, ps.cols, lanes))]
                    with m.Elif(~ps.first):
                        m.d.comb += [self.glb_rd_en.eq(1), self.glb_addr.eq(token_addr)]
                    m.d.sync += [tokens_issued.eq(tokens_issued + 1), token_addr.eq(token_addr + ps.ps_row_words),
                                 token_j.eq(token_j + 1), token_lo.eq(token_lo + lanes)]
                    with m.If(token_j == ps.groups - 1):
                        m.d.sync += [token_j.eq(0), token_lo.eq(0), token_m.eq(token_m + 1)]
                with m.If(self.psum_out_valid & (writes_done == tokens - 1)):
                    m.d.comb += reducer_free.eq(1)
                    with m.If(~reduce_go):
                        m.next = "IDLE"
        with m.If(reduce_go):   # after the reducer's own updates: a new reduction may start in the last one's end
            m.d.sync += [token_m.eq(0), token_j.eq(0), token_wait.eq(0), tokens_issued.eq(0), held.eq(0),
                         token_lo.eq(0), write_lo.eq(0), write_g.eq(0), writes_done.eq(0), reduce_step.eq(step),
                         token_addr.eq(ps.ps_base + step // vp), write_addr.eq(ps.ps_base + step // vp)]
        entry = self._drain_entry
        m.submodules.drain_fifo = fifo = SyncFIFO(width=entry.size, depth=self.drain_entries)
        self._drain(m, ps, fifo, accept_pass, drain_room, flush, drained, write_lo)
        in_columns = Signal()   # the array is on a column (its feed or compute), before the pass's end
        self._prefetch(m, ps, fifo, prefetch & in_columns & reducer_idle & ~reduce_go & ~prefetched, prefetched, take,
                       fetched, step)
        with m.If(accept_pass | reduce_go):
            m.d.sync += prefetched.eq(0)

        with m.FSM(name="array"):
            with m.State("IDLE"):
                m.d.comb += array_idle.eq(1)
                with m.If(accept_pass):
                    new = self._view(self.cmd.payload, Pass)
                    m.d.sync += [command.eq(self.cmd.payload), i_row.eq(0), k.eq(0), r.eq(0), cfg_group.eq(0),
                                 cfg_lane.eq(0),
                                 remaining.eq(new.channels), step.eq(0), window_base.eq(0), since.eq(-1)]
                    m.next = "CONFIG"

            # ---- pass: configure each PE row
            with m.State("CONFIG"):
                cfg = self.rows_config
                m.d.comb += [cfg.valid.eq(1), cfg.row.eq(i_row), cfg.group.eq(cfg_group), cfg.lane.eq(cfg_lane),
                             cfg.r.eq(r),
                             cfg.active.eq((k < ps.sets) & (r < ps.set_rows)),
                             cfg.channels.eq(self._at_most(remaining, ps.q))]
                m.d.sync += i_row.eq(i_row + 1)
                with m.If(r == ps.set_stride - 1):
                    m.d.sync += [r.eq(0), k.eq(k + 1), remaining.eq(Mux(remaining > ps.q, remaining - ps.q, 0))]
                    with m.If(cfg_lane == ps.set_lanes - 1):
                        m.d.sync += [cfg_lane.eq(0), cfg_group.eq(cfg_group + 1)]
                    with m.Else():
                        m.d.sync += cfg_lane.eq(cfg_lane + 1)
                with m.Else():
                    m.d.sync += r.eq(r + 1)
                with m.If(i_row == config.rows - 1):
                    m.d.sync += [k.eq(0), r.eq(0), i_row.eq(0), m_idx.eq(0), row_word.eq(ps.w_base),
                                 filter_m_base.eq(0), filter_cs.eq(0)]
                    m.next = "FILTERS"

            # ---- pass: GLB -> filter scratchpads, one word per cycle for a group of PE rows, loop (group, m, c*S + s)
            with m.State("FILTERS"):
                m.d.comb += [self.glb_rd_en.eq(1), self.glb_addr.eq(row_word)]
                m.d.sync += [fil_beat.valid.eq(1), fil_beat.group.eq(k), fil_beat.addr.eq(filter_m_base + filter_cs),
                             row_word.eq(row_word + 1), filter_cs.eq(filter_cs + 1)]
                with m.If(filter_cs == ps.qs - 1):
                    m.d.sync += [filter_cs.eq(0), filter_m_base.eq(filter_m_base + ps.qs), m_idx.eq(m_idx + 1)]
                    with m.If(m_idx == ps.p - 1):
                        m.d.sync += [m_idx.eq(0), filter_m_base.eq(0), k.eq(k + 1)]
                        with m.If(k == ps.filter_groups - 1):
                            m.next = "FEED_START"

            # ---- pass step: stream the new ifmap values of output column `step` (the feeder below), once the
            # reduction before it is `gap` cycles in
            with m.State("FEED_START"):
                m.d.comb += in_columns.eq(1)
                with m.If(gap_open):
                    m.d.comb += feed_go.eq(1)
                    m.next = "FEED"
            with m.State("FEED"):
                m.d.comb += in_columns.eq(1)
                with m.If(feed_last):
                    m.next = "COMPUTE"

            # ---- pass step: from `gap` cycles into the last column's reduction, the PEs run q*S*slots MAC slots;
            # wait for the last result. With lookahead the feeder streams the next column's new values into the
            # other part of each ifmap ring meanwhile. The column ends when the reducer can take it.
            with m.State("COMPUTE"):
                m.d.comb += in_columns.eq(1)
                start, computed = Signal(), Signal()   # compute_count leaves 0 in the cycle after the start
                m.d.comb += [start.eq((compute_count == 0) & gap_open), self.compute.start.eq(start),
                             feed_go.eq(start & ps.lookahead & (step + 1 < ps.F)),
                             computed.eq(compute_count == ps.qs * ps.slots + self._mac_latency)]
                with m.If((start | (compute_count != 0)) & ~computed):
                    m.d.sync += compute_count.eq(compute_count + 1)   # holds at the end while the feed finishes
                with m.If(computed & (~feed_busy | feed_last) & column_free):
                    m.d.comb += reduce_go.eq(1)
                    m.d.sync += [step.eq(step + 1), window_base.eq(self._wrap(window_base + ps.u_mod, ps.ring)),
                                 compute_count.eq(0)]
                    with m.If(step == ps.F - 1):
                        m.next = "REDUCE"
                    with m.Elif(~ps.lookahead):
                        m.next = "FEED_START"

            # ---- pass end: the last column's reduction, then (draining) the packer's last word and the FIFO
            with m.State("REDUCE"):
                with m.If(pass_free & ps.drain & ~ps.wide):
                    m.next = "FLUSH"
                with m.Elif(pass_free):
                    m.next = "IDLE"
            with m.State("FLUSH"):
                m.d.comb += flush.eq(1)
                m.next = "EMPTY"
            with m.State("EMPTY"):
                with m.If(drained):
                    m.next = "IDLE"

        self._feeder(m, ps, accept_pass, feed_go, feed_busy, feed_last, if_beat, if_zero, if_shift)
        return m

    def _transfers(self, m, idle, accept):
        """The transfer engine: on ``accept``, runs the ``DramRead`` on ``cmd`` through the GLB's transfer
        port; ``idle`` while it runs none."""
        command = Signal(self._format.width)
        rd = self._view(command, DramRead)
        count = Signal(self._format.glb_addr_bits + 1)
        with m.FSM(name="transfer"):
            with m.State("IDLE"):
                m.d.comb += idle.eq(1)
                with m.If(accept):
                    m.d.sync += [command.eq(self.cmd.payload), count.eq(0)]
                    m.next = "RD_CMD"
            with m.State("RD_CMD"):
                m.d.comb += [self.rd_cmd.valid.eq(1), self.rd_cmd.payload.addr.eq(rd.dram_addr),
                             self.rd_cmd.payload.words.eq(rd.words)]
                with m.If(self.rd_cmd.ready):
                    m.next = "RD_DATA"
            with m.State("RD_DATA"):
                m.d.comb += self.rd_data.ready.eq(1)
                with m.If(self.rd_data.valid):
                    m.d.comb += [self.dma_wr_en.eq(1), self.dma_addr.eq(rd.glb_addr + count),
                                 self.dma_wr_data.eq(self.rd_data.payload)]
                    m.d.sync += count.eq(count + 1)
                    with m.If(count == rd.words - 1):
                        m.next = "IDLE"

    @property
    def _drain_entry(self) -> data.StructLayout:
        """An entry of the drain FIFO: up to :attr:`drain_words` words, and how many of them are sums."""
        return data.StructLayout({"data": self.drain_words * self._config.glb_word_bits,
                                  "words": range(self.drain_words + 1)})

    def _prefetch(self, m, ps, fifo, start, done, take, fetched, step):
        """A prefetching pass's reads of the initial psums of column ``step``: from ``start`` (the reducer
        idle) on, one token's group a cycle (every lane's bank, through the lane ports), each pushed into
        the FIFO the cycle after (its psum lane ``step mod vp`` of each word); ``done`` after the last. A
        token that ``take`` s pops its entry, whose psums are on ``fetched`` the cycle after."""
        config = self._config
        pb, vp, lanes = config.psum_bits, config.glb_word_bits // config.psum_bits, self._format.psum_lanes
        entry = data.View(self._drain_entry, fifo.w_data)
        tokens = ps.groups * ps.p
        running, count = Signal(), Signal(17)
        address, lo, j = Signal(len(self.glb_addr) + 1), Signal(7), Signal(6)
        reading, push, last, lane = Signal(), Signal(), Signal(), Signal(range(max(vp, 2)))
        now_address, now_lo, now_j, now_count = (Signal.like(address), Signal.like(lo), Signal.like(j),
                                                 Signal.like(count))
        m.d.comb += [reading.eq(running | (start & ~push)),
                     now_address.eq(Mux(running, address, ps.ps_base + step // vp)),
                     now_lo.eq(Mux(running, lo, 0)), now_j.eq(Mux(running, j, 0)),
                     now_count.eq(Mux(running, count, 0))]
        m.d.sync += push.eq(reading)
        with m.If(reading):
            m.d.comb += [self.lane_en.eq(1), self.lane_entry.eq(now_address),
                         self.lane_rd_en.eq(self._lanes_below(now_lo, ps.cols, lanes))]
            m.d.sync += [address.eq(now_address + ps.ps_row_words), count.eq(now_count + 1),
                         running.eq(now_count + 1 < tokens), last.eq(now_count + 1 == tokens)]
            with m.If(now_j == ps.groups - 1):
                m.d.sync += [j.eq(0), lo.eq(0)]
            with m.Else():
                m.d.sync += [j.eq(now_j + 1), lo.eq(now_lo + lanes)]
            with m.If(~running):
                m.d.sync += lane.eq(step % vp)
        with m.If(push):
            m.d.comb += [fifo.w_en.eq(1),
                         entry.data.eq(Cat(*[_lane(self.lane_rd_data[b], lane, pb, vp) for b in range(lanes)]))]
            with m.If(last):
                m.d.sync += done.eq(1)
        taken = data.View(self._drain_entry, fifo.r_data)
        with m.If(take):
            m.d.comb += fifo.r_en.eq(1)
            m.d.sync += fetched.eq(taken.data[:len(fetched.as_value())])

    def _drain(self, m, ps, fifo, start, room, flush, drained, write_lo):
        """The drain of a pass with ``Pass.drain``: its write request from the cycle after ``start``, and its
        final sums from the array, in the order they come, through a FIFO of :attr:`drain_entries` entries
        to the off-chip write stream. A wide token's valid lanes are one entry of ``ceil(lanes / vp)``
        words; column sums fill a word ``vp`` at a time (lane ``n mod vp`` for the pass's ``n``-th sum), one
        entry of one word when full, the last on ``flush``. The unpacker sends an entry's words one a cycle.
        ``room``: a narrow token may issue (the FIFO can take a word of every token in flight and one more;
        a wide column's tokens always fit, its reduction ending only once the words before have left);
        ``drained``: nothing is left to send."""
        config = self._config
        word_bits, pb = config.glb_word_bits, config.psum_bits
        vp, lanes, words = word_bits // pb, self._format.psum_lanes, self.drain_words
        entry, depth = self._drain_entry, self.drain_entries
        pushed, taken = data.View(entry, fifo.w_data), data.View(entry, fifo.r_data)

        request = Signal()   # the pass's write request is still to be taken
        with m.If(start & self._view(self.cmd.payload, Pass).drain):
            m.d.sync += request.eq(1)
        with m.Elif(self.wr_cmd.ready):
            m.d.sync += request.eq(0)
        m.d.comb += [self.wr_cmd.valid.eq(request), self.wr_cmd.payload.addr.eq(ps.out_addr),
                     self.wr_cmd.payload.words.eq(ps.out_words)]

        result = self.psum_out_valid & ps.drain
        in_flight = Signal(range(depth + 2))   # narrow tokens issued whose sums have not come back
        m.d.sync += in_flight.eq(in_flight + (self.token.valid & ps.drain & ~ps.wide) - (result & ~ps.wide))
        m.d.comb += room.eq(ps.wide | ~ps.drain | (fifo.level + in_flight + 2 <= depth))

        pack, fill = Signal(word_bits), Signal(range(max(vp, 2)))
        with m.If(result & ps.wide):
            valid = Mux(ps.cols - write_lo >= lanes, lanes, ps.cols - write_lo)
            # Lane b in lane b mod vp of word b // vp (a psum may not divide the word).
            by_word = [Cat(*[self.psum_lanes_out[b] for b in range(w * vp, min((w + 1) * vp, lanes))])
                       for w in range(words)]
            by_word = [Cat(value, Const(0, word_bits - len(value))) if len(value) < word_bits else value
                       for value in by_word]
            m.d.comb += [fifo.w_en.eq(1), pushed.data.eq(Cat(*by_word)), pushed.words.eq((valid + vp - 1) // vp)]
        with m.If(result & ~ps.wide):
            if vp == 1:
                m.d.comb += [fifo.w_en.eq(1), pushed.data.eq(self.psum_out), pushed.words.eq(1)]
            else:
                with m.If(fill == vp - 1):
                    m.d.comb += [fifo.w_en.eq(1), pushed.data.eq(Cat(pack[:(vp - 1) * pb], self.psum_out)),
                                 pushed.words.eq(1)]
                    m.d.sync += fill.eq(0)
                with m.Else():
                    m.d.sync += [pack.word_select(fill, pb).eq(self.psum_out), fill.eq(fill + 1)]
        with m.If(flush & (fill != 0)):
            m.d.comb += [fifo.w_en.eq(1), pushed.data.eq(pack), pushed.words.eq(1)]
            m.d.sync += fill.eq(0)

        # The unpacker: the entry being sent, its words left and the next one's index; it takes the next
        # entry in the cycle its last word goes, and sends a word at most every `pace` cycles (the off-chip
        # bandwidth: then no word waits for credit).
        current = Signal(words * word_bits)
        left, index = Signal(range(words + 1)), Signal(range(max(words, 2)))
        pace = drain_pace(word_bytes=word_bits // 8, dram_bytes_per_cycle=config.dram_bytes_per_cycle)
        cool = Signal(range(max(pace, 2)))   # cycles until the next word may go
        m.d.comb += [self.wr_data.valid.eq((left != 0) & (cool == 0)),
                     self.wr_data.payload.eq(current.word_select(index, word_bits))]
        sent = self.wr_data.valid & self.wr_data.ready
        with m.If(sent):
            m.d.sync += [left.eq(left - 1), index.eq(index + 1), cool.eq(pace - 1)]
        with m.Elif(cool != 0):
            m.d.sync += cool.eq(cool - 1)
        with m.If(((left == 0) | (sent & (left == 1))) & fifo.r_rdy & ps.drain):
            m.d.comb += fifo.r_en.eq(1)
            m.d.sync += [current.eq(taken.data), left.eq(taken.words), index.eq(0)]
        m.d.comb += drained.eq(~fifo.r_rdy & (left == 0) & ~request)

    def _feeder(self, m, ps, start, go, busy, last, if_beat, if_zero, if_shift):
        """The ifmap feeder: on ``go``, streams the new ifmap values of the next output column from the GLB, one
        beat per cycle (a value for each set of a word group), loop (word group, slot, stream row, value);
        ``last`` in the cycle of the last beat."""
        k, c_idx = Signal(6), Signal(11)   # word group, slot
        remaining, set_channels = Signal(12), Signal(12)   # channels from the group's first, slots of the group
        chan_base, group_base = Signal(len(self.glb_addr) + 1), Signal(len(self.glb_addr) + 1)
        word_slot, shift = Signal(6), Signal.like(if_shift)   # the slot's place in its word, its first lane
        slot_base, n_idx, x_mod = Signal(11), Signal(11), Signal(11)
        y, y_mod = Signal(16), Signal(4)
        # Where the next column's new values start: padded ifmap column, ring slot, count per stream row.
        x_start, x_start_mod, n_step, fed = Signal(13), Signal(11), Signal(11), Signal(12)
        with m.If(start):
            new = self._view(self.cmd.payload, Pass)
            m.d.sync += [x_start.eq(new.x0), x_start_mod.eq(0), n_step.eq(new.n_first), fed.eq(0)]
        with m.FSM(name="feeder"):
            with m.State("IDLE"):
                with m.If(go):
                    m.d.sync += [k.eq(0), c_idx.eq(0), remaining.eq(ps.channels),
                                 set_channels.eq(self._at_most(ps.channels, ps.q)),
                                 chan_base.eq(ps.if_base), group_base.eq(ps.if_base), word_slot.eq(0), shift.eq(0),
                                 slot_base.eq(0), y.eq(0), y_mod.eq(0),
                                 n_idx.eq(0), x_mod.eq(x_start_mod)]
                    m.next = "RUN"
            with m.State("RUN"):
                m.d.comb += busy.eq(1)
                yu, xu = Signal(signed(18)), Signal(signed(15))
                m.d.comb += [yu.eq(ps.y_start + y - ps.pad), xu.eq(x_start + n_idx - ps.pad)]
                inside = Signal()
                m.d.comb += inside.eq((yu >= 0) & (yu < ps.H) & (xu >= 0) & (xu < ps.W))
                x_word = (xu - ps.x_first).as_unsigned()[:13]   # the value's word in the row's window
                row_offset = Signal(len(self.glb_addr) + 1)
                m.d.comb += row_offset.eq((yu - ps.y_first).as_unsigned()[:12] * ps.if_row_words)
                m.d.comb += [self.glb_rd_en.eq(inside),
                             self.glb_addr.eq(chan_base + row_offset + x_word)]
                m.d.sync += [if_beat.valid.eq(1), if_beat.group.eq(k), if_beat.y.eq(y), if_beat.channel.eq(c_idx),
                             if_beat.slot.eq(slot_base + x_mod), if_zero.eq(~inside), if_shift.eq(shift)]
                m.d.sync += [n_idx.eq(n_idx + 1), x_mod.eq(Mux(x_mod == ps.ring - 1, 0, x_mod + 1))]
                with m.If(n_idx == n_step - 1):
                    next_y, next_mod = Signal(17), Signal(5)
                    m.d.comb += [next_y.eq(y + 1), next_mod.eq(Mux(y_mod == ps.U - 1, 0, y_mod + 1))]
                    skip = (next_y < ps.y_dense) & (next_mod >= ps.set_rows)
                    target = Mux(skip, next_y + ps.U - next_mod, next_y)
                    m.d.sync += [n_idx.eq(0), x_mod.eq(x_start_mod), y.eq(target), y_mod.eq(Mux(skip, 0, next_mod))]
                    with m.If(target >= ps.y_span):
                        left = Mux(remaining > ps.group_channels, remaining - ps.group_channels, 0)
                        m.d.sync += [y.eq(0), y_mod.eq(0), c_idx.eq(c_idx + 1), slot_base.eq(slot_base + ps.ring)]
                        with m.If(word_slot == ps.slot_words - 1):   # the next slot is in the next word row
                            m.d.sync += [word_slot.eq(0), shift.eq(0), chan_base.eq(chan_base + ps.chan_stride)]
                        with m.Else():
                            m.d.sync += [word_slot.eq(word_slot + 1), shift.eq(shift + ps.set_lanes)]
                        with m.If(c_idx == set_channels - 1):
                            m.d.sync += [c_idx.eq(0), slot_base.eq(0), k.eq(k + 1), remaining.eq(left),
                                         set_channels.eq(self._at_most(left, ps.q)), word_slot.eq(0), shift.eq(0),
                                         chan_base.eq(group_base + ps.group_stride),
                                         group_base.eq(group_base + ps.group_stride)]
                            with m.If(k == ps.if_groups - 1):
                                m.d.comb += last.eq(1)
                                m.d.sync += [fed.eq(fed + 1), n_step.eq(ps.n_next)]
                                with m.If(fed == 0):
                                    m.d.sync += [x_start.eq(x_start + ps.inc_first),
                                                 x_start_mod.eq(self._wrap(x_start_mod + ps.inc_first_mod, ps.ring))]
                                with m.Else():
                                    m.d.sync += [x_start.eq(x_start + ps.inc_next),
                                                 x_start_mod.eq(self._wrap(x_start_mod + ps.inc_next_mod, ps.ring))]
                                m.next = "IDLE"

    @staticmethod
    def _lanes_below(first_column, columns, lanes: int):
        """One bit per lane ``b``: column ``first_column + b`` is below ``columns`` (it exists in the pass)."""
        return Cat(first_column + b < columns for b in range(lanes))

    @staticmethod
    def _at_most(value, bound):
        return Mux(value < bound, value, bound)

    @staticmethod
    def _wrap(value, modulus):
        return Mux(value >= modulus, value - modulus, value)
