"""A PE scratchpad: one write port and one synchronous read port over ``lib.memory``."""

from amaranth.hdl import Cat, ClockSignal, Const, Instance, Module, Mux, Signal
from amaranth.lib import memory, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["Scratchpad"]


class Scratchpad(wiring.Component):
    """A ``depth x width`` register file with one write and one read per cycle.

    The read is synchronous: ``rd_data`` holds the entry addressed by the last
    cycle with ``rd_en`` set, and keeps it while ``rd_en`` is low. With
    ``transparent`` a read and a write of the same entry in one cycle return
    the written value, which is what lets an accumulator be read back one
    cycle after its update was written.

    Parameters
    ----------
    depth : int
        Entries; a positive integer.
    width : int
        Bits per entry; a positive integer.
    transparent : bool
        Whether the read port sees a same-cycle write.
    macro : (int, int) or None
        The ``(depth, width)`` of a fakeram45 macro to build it from instead
        of ``lib.memory`` (one macro, at least ``depth x width``). The macro
        has a single read/write port: the user must never read and write in
        the same cycle (a PE's filter scratchpad is written only while filters
        load and read only while it computes).

    Members
    -------
    wr_en : In(1)
    wr_addr : In(addr_bits)
    wr_data : In(width)
    rd_en : In(1)
    rd_addr : In(addr_bits)
    rd_data : Out(width)
    """

    def __init__(self, *, depth: int, width: int, transparent: bool = False, macro: tuple[int, int] | None = None):
        for name, value in (("depth", depth), ("width", width)):
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise TypeError(f"scratchpad {name} must be a positive integer, not {value!r}")
        if macro is not None and (transparent or macro[0] < depth or macro[1] < width):
            raise ValueError(f"a {macro[0]}x{macro[1]} macro cannot hold a {depth}x{width} "
                             f"{'transparent ' if transparent else ''}scratchpad")
        self._depth, self._width, self._transparent, self._macro = depth, width, transparent, macro
        super().__init__({
            "wr_en": In(1), "wr_addr": In(self.addr_bits), "wr_data": In(width),
            "rd_en": In(1), "rd_addr": In(self.addr_bits), "rd_data": Out(width),
        })

    @property
    def depth(self) -> int:
        return self._depth

    @property
    def width(self) -> int:
        return self._width

    @property
    def addr_bits(self) -> int:
        """Width of an entry address."""
        return max(1, (self._depth - 1).bit_length())

    @property
    def read_latency(self) -> int:
        """Cycles from ``rd_en`` to the entry on ``rd_data``: 1."""
        return 1

    @property
    def macro(self) -> str | None:
        """The fakeram45 module it instantiates, or ``None`` for ``lib.memory``."""
        return f"fakeram45_{self._macro[0]}x{self._macro[1]}" if self._macro else None

    def elaborate(self, platform):
        m = Module()
        if self._macro is not None:
            depth, width = self._macro
            read_word = Signal(width)
            m.submodules.storage = Instance(
                self.macro, i_clk=ClockSignal(), i_ce_in=self.wr_en | self.rd_en, i_we_in=self.wr_en,
                i_addr_in=Mux(self.wr_en, self.wr_addr, self.rd_addr),
                i_wd_in=Cat(self.wr_data, Const(0, width - self._width)), i_w_mask_in=Const((1 << width) - 1, width),
                o_rd_out=read_word)
            m.d.comb += self.rd_data.eq(read_word[:self._width])
            return m
        m.submodules.storage = storage = memory.Memory(shape=self._width, depth=self._depth, init=[])
        write = storage.write_port()
        read = storage.read_port(transparent_for=(write,) if self._transparent else ())
        m.d.comb += [
            write.en.eq(self.wr_en), write.addr.eq(self.wr_addr), write.data.eq(self.wr_data),
            read.en.eq(self.rd_en), read.addr.eq(self.rd_addr), self.rd_data.eq(read.data),
        ]
        return m
