"""A row-stationary processing element: three scratchpads, a MAC unit and the 1-D convolution sequencer."""

from amaranth.hdl import Const, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from quidam.config import AcceleratorConfig
from quidam.mapping.commands import CommandFormat

from .array_bus import STREAM_ROW_BITS, ArrayBuses
from .mac import mac_for
from .scratchpad import Scratchpad

__all__ = ["PE", "filter_spad_macro", "psum_identity"]

FP32_ONE = 0x3F80_0000
FP32_NEGATIVE_ZERO = 0x8000_0000


def filter_spad_macro(config: AcceleratorConfig, shapes) -> tuple[int, int] | None:
    """The fakeram45 ``(depth, width)`` that implements the filter scratchpad better than flip-flops, if any.

    As Eyeriss did for its 224-entry filter scratchpad: one macro of at least
    ``filter_spad_depth x wt_bits``, for scratchpads of 64 entries or more,
    when the macro wastes at most half its bits. The filter scratchpad is the
    one PE memory a single-ported macro can serve (written only while filters
    load, read only while the PE computes).
    """
    needed = config.filter_spad_depth * config.wt_bits
    fitting = [(d * w, (d, w)) for d, w in shapes if d >= config.filter_spad_depth and w >= config.wt_bits]
    if config.filter_spad_depth < 64 or not fitting:
        return None
    bits, shape = min(fitting)
    return shape if bits <= 2 * needed else None


def psum_identity(config: AcceleratorConfig) -> int:
    """The psum bits ``x`` with ``x + y == y`` for every ``y``: ``-0.0`` in binary32, else 0."""
    return FP32_NEGATIVE_ZERO if config.pe.is_float else 0


class PE(wiring.Component):
    """One PE of the array at (``row``, ``col``).

    A PE runs the 1-D convolution primitive of the row-stationary dataflow:
    its filter scratchpad holds ``p`` filters x ``q`` channels of one filter
    row (entry ``(m*q + c)*S + s``; a filter beat writes one entry in every
    active PE of a group of ``filter_lanes`` rows, each from its own lane), its ifmap scratchpad a ring of ``ring``
    entries per channel for ``q`` channels of one ifmap row (``S``, the
    sliding window, or ``S + min(U, S)`` with lookahead: the next column's
    new values arrive while the PE computes; the ``i``-th value streamed
    into channel ``c`` lands in entry ``c*ring + i mod ring``; an ifmap beat
    carries a value for each set of a word group, the PE taking its set's
    lane), its psum
    scratchpad the ``p`` partial sums of the current output column. On
    ``compute.start`` the sequencer walks channel ``c``, filter column ``s``
    and accumulation slot ``m`` (innermost) and issues one MAC per cycle; the
    first term of each psum adds to the additive identity. A reduction token
    for this column (or, a wide token, for its group of ``psum_lanes``
    columns) then adds the PE's psum ``m`` to the psum arriving from the PE
    above and passes the sum down: integer types in a psum adder, fp32 in
    the MAC itself (``psum + 1.0 * partial``). An integer PE's token may pass
    while it computes the next column: the schedule's gap
    (:func:`~quidam.mapping.model.reduction_gap`) puts every token read in
    the cycles where the new column neither reads nor writes psum ``m``. A PE
    that is not active in the pass contributes the identity.

    Parameters
    ----------
    config : AcceleratorConfig
    row, col : int
        Position in the array.
    filter_macro : (int, int) or None
        A fakeram45 ``(depth, width)`` to build the filter scratchpad from
        (see :func:`filter_spad_macro`); ``None`` for ``lib.memory``.

    Members
    -------
    rows_config, filters, ifmap, compute, token : In(...)
        The array buses (:class:`~quidam.rtl_gen.array_bus.ArrayBuses`);
        ``token`` is already delayed for this row.
    psum_above : In(psum_bits)
        The sum arriving from the PE above (the top row gets the pass's
        initial psum).
    psum_down : Out(psum_bits)
        This PE's sum, valid :attr:`reduce_latency` cycles after the token's
        psum read returned.
    """

    def __init__(self, config: AcceleratorConfig, *, row: int, col: int, filter_macro=None):
        for name, value, limit in (("row", row, config.rows), ("col", col, config.cols)):
            if not isinstance(value, int) or not 0 <= value < limit:
                raise ValueError(f"PE {name} must be an integer in 0..{limit - 1}, not {value!r}")
        self._config, self._row, self._col, self._filter_macro = config, row, col, filter_macro
        self._mac = mac_for(config)
        buses = ArrayBuses(config)
        super().__init__({
            "rows_config": In(buses.rows_config), "filters": In(buses.filters), "ifmap": In(buses.ifmap),
            "compute": In(buses.compute), "token": In(buses.token),
            "psum_above": In(config.psum_bits), "psum_down": Out(config.psum_bits),
        })
        #: Simulation monitors (1 when the event happens this cycle); nothing in the design reads them.
        self.monitors = {name: Signal(name=f"mon_{name}") for name in
                         ("mac", "ifmap_rd", "ifmap_wr", "filter_rd", "filter_wr", "psum_rd", "psum_wr")}

    @property
    def mac_latency(self) -> int:
        """Cycles from a MAC's operands to its result."""
        return self._mac.latency

    @property
    def accumulate_interval(self) -> int:
        """Fewest accumulation slots per (channel, filter column): a psum is read back only after its update."""
        return self._mac.latency + 1

    @property
    def reduce_latency(self) -> int:
        """Cycles a reduction token spends in one PE row (psum read data to psum_down)."""
        return self._mac.latency if self._config.pe.is_float else 1

    @property
    def reduces_beside_compute(self) -> bool:
        """Whether a reduction token can pass while the PE computes the next column: integer types add in a
        psum adder of their own; fp32 adds in the MAC."""
        return not self._config.pe.is_float

    def elaborate(self, platform):
        config, m = self._config, Module()
        fp32 = config.pe.is_float
        identity = Const(psum_identity(config), config.psum_bits)
        m.submodules.mac = mac = self._mac
        m.submodules.ifmap_spad = ifmap_spad = Scratchpad(depth=config.ifmap_spad_depth, width=config.act_bits)
        m.submodules.filter_spad = filter_spad = Scratchpad(depth=config.filter_spad_depth, width=config.wt_bits,
                                                            macro=self._filter_macro)
        m.submodules.psum_spad = psum_spad = Scratchpad(depth=config.psum_spad_depth, width=config.psum_bits,
                                                        transparent=True)
        compute, mon = self.compute, self.monitors

        # Pass configuration of this PE's row, and whether its column takes part.
        active = Signal()
        pe_group, pe_lane = Signal.like(self.rows_config.group), Signal.like(self.rows_config.lane)
        stream_row = Signal(STREAM_ROW_BITS)
        channels = Signal.like(self.rows_config.channels)
        cfg = self.rows_config
        with m.If(cfg.valid & (cfg.row == self._row)):
            m.d.sync += [active.eq(cfg.active), pe_group.eq(cfg.group), pe_lane.eq(cfg.lane),
                         channels.eq(cfg.channels), stream_row.eq(cfg.r + compute.U * self._col)]
        enabled = Signal()
        m.d.comb += enabled.eq(active & (self._col < compute.cols))

        # Filter and ifmap captures from the multicast buses.
        fil, ifm = self.filters, self.ifmap
        lanes = CommandFormat(config).filter_lanes
        m.d.comb += [
            filter_spad.wr_en.eq(fil.valid & (fil.group == self._row // lanes) & enabled),
            filter_spad.wr_addr.eq(fil.addr), filter_spad.wr_data.eq(fil.data[self._row % lanes]),
            ifmap_spad.wr_en.eq(ifm.valid & enabled & (ifm.group == pe_group) & (ifm.y == stream_row)
                               & (ifm.channel < channels)),
            ifmap_spad.wr_addr.eq(ifm.slot), ifmap_spad.wr_data.eq(ifm.data[pe_lane]),
        ]

        # The 1-D convolution sequencer: channel c, filter column s, slot m (innermost).
        running = Signal()
        c, s, slot = (Signal(len(compute.q), name=n) for n in ("c", "s", "slot"))
        cs = Signal(len(compute.qs))                 # c*S + s
        c_base = Signal(len(ifmap_spad.rd_addr) + 1)  # c*S
        window = Signal(len(compute.ring))           # (window_base + s) mod ring
        m_base = Signal(len(filter_spad.rd_addr) + 1)  # slot*q*S
        issue = Signal()
        first = Signal()
        m.d.comb += [
            issue.eq(running & enabled & (c < channels) & (slot < compute.p)),
            first.eq(cs == 0),
            ifmap_spad.rd_en.eq(issue), ifmap_spad.rd_addr.eq(c_base + window),
            filter_spad.rd_en.eq(issue), filter_spad.rd_addr.eq(m_base + cs),
        ]
        with m.If(compute.start):
            m.d.sync += [running.eq(1), c.eq(0), s.eq(0), slot.eq(0), cs.eq(0), c_base.eq(0), m_base.eq(0),
                         window.eq(compute.window_base)]
        with m.Elif(running):
            with m.If(slot == compute.slots - 1):
                m.d.sync += [slot.eq(0), m_base.eq(0), cs.eq(cs + 1)]
                with m.If(s == compute.S - 1):
                    m.d.sync += [s.eq(0), window.eq(compute.window_base), c.eq(c + 1),
                                 c_base.eq(c_base + compute.ring)]
                    with m.If(c == compute.q - 1):
                        m.d.sync += running.eq(0)
                with m.Else():
                    m.d.sync += [s.eq(s + 1), window.eq(Mux(window == compute.ring - 1, 0, window + 1))]
            with m.Else():
                m.d.sync += [slot.eq(slot + 1), m_base.eq(m_base + compute.qs)]

        # Reduction token: read psum m of this PE (active PEs only).
        tok = self.token
        token_hit = Signal()
        group = self._col // CommandFormat(config).psum_lanes
        m.d.comb += token_hit.eq(tok.valid & (self._col < compute.cols)
                                 & Mux(tok.wide, tok.col == group, tok.col == self._col))
        m.d.comb += [
            psum_spad.rd_en.eq((issue & ~first) | (token_hit & active)),
            psum_spad.rd_addr.eq(Mux(token_hit, tok.m, slot)),
        ]

        # Operands arrive one cycle after the reads.
        mac_valid, mac_first, mac_slot = Signal(), Signal(), Signal.like(slot)
        reducing, reducing_active = Signal(), Signal()
        m.d.sync += [mac_valid.eq(issue), mac_first.eq(first), mac_slot.eq(slot),
                     reducing.eq(token_hit), reducing_active.eq(active)]
        partial = Signal(config.psum_bits)
        m.d.comb += partial.eq(Mux(reducing_active, psum_spad.rd_data, identity))
        if fp32:
            m.d.comb += [
                mac.in_valid.eq(mac_valid | reducing),
                mac.a.eq(Mux(reducing, partial, ifmap_spad.rd_data)),
                mac.w.eq(Mux(reducing, Const(FP32_ONE, 32), filter_spad.rd_data)),
                mac.psum_in.eq(Mux(reducing, self.psum_above, Mux(mac_first, identity, psum_spad.rd_data))),
                self.psum_down.eq(mac.psum_out),
            ]
        else:
            m.d.comb += [
                mac.in_valid.eq(mac_valid), mac.a.eq(ifmap_spad.rd_data), mac.w.eq(filter_spad.rd_data),
                mac.psum_in.eq(Mux(mac_first, identity, psum_spad.rd_data)),
            ]
            with m.If(reducing):
                m.d.sync += self.psum_down.eq(partial + self.psum_above)

        # MAC results of the compute phase go back to psum entry m.
        pending_slot, pending = mac_slot, mac_valid
        for stage in range(self._mac.latency):
            delayed_slot, delayed = Signal.like(slot, name=f"slot_d{stage}"), Signal(name=f"compute_d{stage}")
            m.d.sync += [delayed_slot.eq(pending_slot), delayed.eq(pending)]
            pending_slot, pending = delayed_slot, delayed
        m.d.comb += [psum_spad.wr_en.eq(pending), psum_spad.wr_addr.eq(pending_slot),
                     psum_spad.wr_data.eq(mac.psum_out)]

        m.d.comb += [
            mon["mac"].eq(mac_valid), mon["ifmap_rd"].eq(ifmap_spad.rd_en), mon["filter_rd"].eq(filter_spad.rd_en),
            mon["psum_rd"].eq(psum_spad.rd_en), mon["ifmap_wr"].eq(ifmap_spad.wr_en),
            mon["filter_wr"].eq(filter_spad.wr_en), mon["psum_wr"].eq(psum_spad.wr_en),
        ]
        return m
