"""A PE scratchpad: one write port and one synchronous read port over ``lib.memory``."""

from amaranth.hdl import Module
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

    Members
    -------
    wr_en : In(1)
    wr_addr : In(addr_bits)
    wr_data : In(width)
    rd_en : In(1)
    rd_addr : In(addr_bits)
    rd_data : Out(width)
    """

    def __init__(self, *, depth: int, width: int, transparent: bool = False):
        for name, value in (("depth", depth), ("width", width)):
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise TypeError(f"scratchpad {name} must be a positive integer, not {value!r}")
        self._depth, self._width, self._transparent = depth, width, transparent
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

    def elaborate(self, platform):
        m = Module()
        m.submodules.storage = storage = memory.Memory(shape=self._width, depth=self._depth, init=[])
        write = storage.write_port()
        read = storage.read_port(transparent_for=(write,) if self._transparent else ())
        m.d.comb += [
            write.en.eq(self.wr_en), write.addr.eq(self.wr_addr), write.data.eq(self.wr_data),
            read.en.eq(self.rd_en), read.addr.eq(self.rd_addr), self.rd_data.eq(read.data),
        ]
        return m
