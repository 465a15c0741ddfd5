"""The ``rows x cols`` PE array with the row-stationary interconnect."""

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from quidam.config import AcceleratorConfig
from quidam.mapping.commands import CommandFormat

from .array_bus import ArrayBuses
from .pe import PE

__all__ = ["PEArray"]


class PEArray(wiring.Component):
    """``rows x cols`` :class:`~quidam.rtl_gen.pe.PE` instances.

    The configuration, filter, ifmap and compute buses reach every PE (a PE
    picks the beats tagged for it: filter rows along PE rows, ifmap rows
    multicast to every PE whose stream row matches, which is a diagonal of
    each PE set). Psums accumulate down the columns: a reduction token enters
    row 0 together with the initial psum and moves down one row every
    :attr:`reduce_latency` cycles; the column's sum leaves the bottom row on
    ``psum_out`` :attr:`result_delay` cycles after the token entered. A wide
    token reduces a group of ``psum_lanes`` columns at once: column ``j``
    starts from lane ``j mod psum_lanes`` of ``psum_lanes_init`` and its sum
    leaves on the same lane of ``psum_lanes_out``.

    Parameters
    ----------
    config : AcceleratorConfig
    filter_macro : (int, int) or None
        fakeram45 shape of every PE's filter scratchpad (see :class:`PE`).

    Members
    -------
    rows_config, filters, ifmap, compute, token : In(...)
        See :class:`~quidam.rtl_gen.array_bus.ArrayBuses`.
    psum_init : In(psum_bits)
        The psum a token starts from, valid one cycle after the token.
    psum_lanes_init : In(data.ArrayLayout(psum_bits, psum_lanes))
        The same for each lane of a wide token.
    psum_out_valid : Out(1)
    psum_out : Out(psum_bits)
    psum_lanes_out : Out(data.ArrayLayout(psum_bits, psum_lanes))
        The sums of a wide token's group (lanes beyond the last column: 0).
    """

    def __init__(self, config: AcceleratorConfig, *, filter_macro=None):
        self._config, self._filter_macro = config, filter_macro
        self._pes = [[PE(config, row=i, col=j, filter_macro=filter_macro) for j in range(config.cols)]
                     for i in range(config.rows)]
        buses = ArrayBuses(config)
        self._lanes = CommandFormat(config).psum_lanes
        lanes = data.ArrayLayout(config.psum_bits, self._lanes)
        super().__init__({
            "rows_config": In(buses.rows_config), "filters": In(buses.filters), "ifmap": In(buses.ifmap),
            "compute": In(buses.compute), "token": In(buses.token),
            "psum_init": In(config.psum_bits), "psum_lanes_init": In(lanes),
            "psum_out_valid": Out(1), "psum_out": Out(config.psum_bits), "psum_lanes_out": Out(lanes),
        })
        #: Simulation monitors: one bit per PE (row-major) per event, as named in ``PE.monitors``.
        self.monitors = {name: Signal(config.rows * config.cols, name=f"mon_{name}")
                         for name in self._pes[0][0].monitors}

    @property
    def macros(self) -> dict[str, int]:
        """fakeram45 module name -> instances in the array."""
        if self._filter_macro is None:
            return {}
        depth, width = self._filter_macro
        return {f"fakeram45_{depth}x{width}": self._config.rows * self._config.cols}

    @property
    def pes(self) -> list[list[PE]]:
        """The PEs, ``pes[row][col]``."""
        return self._pes

    @property
    def mac_latency(self) -> int:
        return self._pes[0][0].mac_latency

    @property
    def accumulate_interval(self) -> int:
        """Fewest accumulation slots per (channel, filter column) (see :class:`PE`)."""
        return self._pes[0][0].accumulate_interval

    @property
    def reduce_latency(self) -> int:
        """Cycles between a token's arrival at one PE row and at the next."""
        return self._pes[0][0].reduce_latency

    @property
    def psum_read_span(self) -> int:
        """Cycles from a token's psum read in row 0 to its read in the bottom row."""
        return (self._config.rows - 1) * self.reduce_latency

    @property
    def reduces_beside_compute(self) -> bool:
        """Whether a column's reduction can run while the next column computes (see :class:`PE`)."""
        return self._pes[0][0].reduces_beside_compute

    @property
    def result_delay(self) -> int:
        """Cycles from a token entering row 0 to its column's sum on ``psum_out``; always odd.

        Odd, so that when tokens enter every other cycle (each reading its
        initial psum from the single-ported GLB), the result writes fall on
        the free cycles in between.
        """
        delay = self._config.rows * self.reduce_latency + 1
        return delay if delay % 2 else delay + 1

    def elaborate(self, platform):
        config, m = self._config, Module()
        latency = self.reduce_latency
        token = self.token
        for i, row in enumerate(self._pes):
            if i:
                for stage in range(latency):
                    delayed = Signal.like(token, name=f"token_r{i}_d{stage}")
                    m.d.sync += delayed.eq(token)
                    token = delayed
            for j, pe in enumerate(row):
                m.submodules[f"pe_{i}_{j}"] = pe
                m.d.comb += [pe.rows_config.eq(self.rows_config), pe.filters.eq(self.filters),
                             pe.ifmap.eq(self.ifmap), pe.compute.eq(self.compute), pe.token.eq(token)]
                if i == 0:
                    m.d.comb += pe.psum_above.eq(Mux(self.token.wide, self.psum_lanes_init[j % self._lanes],
                                                     self.psum_init))
                else:
                    m.d.comb += pe.psum_above.eq(self._pes[i - 1][j].psum_down)

        # The bottom row's sum is valid 1 + latency cycles after its token arrived.
        for stage in range(1 + latency):
            delayed = Signal.like(token, name=f"token_out_d{stage}")
            m.d.sync += delayed.eq(token)
            token = delayed
        result_valid, result = Signal(), Signal(config.psum_bits)
        lane_results = Signal.like(self.psum_lanes_out)
        m.d.comb += result_valid.eq(token.valid)
        with m.Switch(token.col):
            for j, pe in enumerate(self._pes[-1]):
                with m.Case(j):
                    m.d.comb += result.eq(pe.psum_down)
        groups = -(-config.cols // self._lanes)
        with m.Switch(token.col):
            for g in range(groups):
                with m.Case(g):
                    for lane, j in enumerate(range(g * self._lanes, min((g + 1) * self._lanes, config.cols))):
                        m.d.comb += lane_results[lane].eq(self._pes[-1][j].psum_down)
        outputs = [self.psum_out_valid.eq(result_valid), self.psum_out.eq(result), self.psum_lanes_out.eq(lane_results)]
        if self.result_delay == config.rows * latency + 1:
            m.d.comb += outputs
        else:
            m.d.sync += outputs

        for name, monitor in self.monitors.items():
            m.d.comb += monitor.eq(Cat(pe.monitors[name] for row in self._pes for pe in row))
        return m
