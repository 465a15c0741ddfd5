"""The global buffer: ``glb_banks`` single-ported banks of ``glb_bank_depth`` words, with psum lane ports and a
transfer port."""

import math
from math import ceil

from amaranth.hdl import Cat, ClockSignal, Instance, Module, Mux, Signal
from amaranth.lib import data, memory, wiring
from amaranth.lib.wiring import In, Out

from quidam.config import AcceleratorConfig
from quidam.mapping.commands import CommandFormat

__all__ = ["GlobalBuffer", "MEMORIES", "macro_tiling"]

#: How the banks are built: ``lib.memory`` arrays, or fakeram45 macro instances.
MEMORIES = ("behavioural", "macro")


def macro_tiling(depth: int, width: int, shapes) -> tuple[tuple[int, int], int, int]:
    """The macro shape ``(depth, width)`` among ``shapes`` that builds a ``depth x width`` bank with the
    fewest macro bits, and how many macros deep and wide the bank takes."""
    def cost(shape):
        d, w = shape
        return (ceil(depth / d) * ceil(width / w) * d * w, ceil(depth / d) * ceil(width / w))
    best = min(shapes, key=cost)
    return best, ceil(depth / best[0]), ceil(width / best[1])


class GlobalBuffer(wiring.Component):
    """A banked, single-ported word memory with lane write masks and psum lane ports.

    Word address ``a`` lives in bank ``a // glb_bank_depth``, entry
    ``a % glb_bank_depth``. Through the word port, one access per cycle: a
    read (``rd_en``; the word appears on ``rd_data`` the next cycle and stays
    until the next read) or a write of the lanes selected by ``wr_mask`` (one
    bit per :attr:`granularity` bits, so a psum can be written into its lane
    of a packed word). Banks ``0 .. psum_lanes - 1`` also serve one psum lane
    each (:attr:`psum_lanes`, ``min(cols, glb_banks)``): while ``lane_en`` is
    high, bank ``b`` takes its address (``lane_entry``, shared), enables and
    data from lane ``b`` instead of the word port, so the reduction of every
    PE column reads or writes a word in each of those banks in the same
    cycle. The transfer port (``dma_*``, whole words) serves the off-chip
    transfers beside the array: a bank it addresses takes its access from it
    in that cycle. The schedule keeps the two apart (the banks a transfer
    writes or reads are never the ones the running pass uses); the
    ``mon_glb_conflict`` monitor is 1 in a cycle where they meet. Each bank has the ports of a fakeram45 macro (address, write
    enable, bit mask, data in, data out), which is what the macro
    implementation instantiates.

    Parameters
    ----------
    config : AcceleratorConfig
    memory : {"behavioural", "macro"}
        ``macro`` builds each bank from fakeram45 macros (``macro_shapes``,
        ``(depth, width)`` pairs; the cheapest tiling is taken), instantiated
        by module name as black boxes for synthesis and handoff.
    macro_shapes : sequence of (int, int)

    Members
    -------
    addr : In(addr_bits)
    rd_en : In(1)
    rd_data : Out(glb_word_bits)
    wr_en : In(1)
    wr_mask : In(glb_word_bits // granularity)
        The lanes of a word the word port writes, and (the same lanes) the
        psum lanes: one mask, so no bank selects between two masks that
        the controller drives alike.
    wr_data : In(glb_word_bits)
    lane_en : In(1)
        The lane ports drive banks ``0 .. psum_lanes - 1`` this cycle.
    lane_entry : In(range(glb_bank_depth))
    lane_rd_en, lane_wr_en : In(psum_lanes)
        One bit per lane.
    lane_wr_data : In(data.ArrayLayout(glb_word_bits, psum_lanes))
    lane_rd_data : Out(data.ArrayLayout(glb_word_bits, psum_lanes))
        Lane ``b``: the word its bank read in the previous lane read.
    dma_addr : In(addr_bits)
    dma_rd_en, dma_wr_en : In(1)
    dma_wr_data : In(glb_word_bits)
    dma_rd_data : Out(glb_word_bits)
        The word of the previous transfer-port read.
    """

    def __init__(self, config: AcceleratorConfig, *, memory: str = "behavioural", macro_shapes=()):
        if memory not in MEMORIES:
            raise ValueError(f"GLB memory must be one of {', '.join(MEMORIES)}, not {memory!r}")
        if memory == "macro" and not macro_shapes:
            raise ValueError("GLB memory 'macro' needs the available macro shapes")
        self._config, self._memory = config, memory
        self._tiling = (macro_tiling(config.glb_bank_depth, config.glb_word_bits, macro_shapes)
                        if memory == "macro" else None)
        self._words = config.glb_banks * config.glb_bank_depth
        self._lanes = CommandFormat(config).psum_lanes
        word, lanes = config.glb_word_bits, self._lanes
        super().__init__({
            "addr": In(self.addr_bits), "rd_en": In(1), "rd_data": Out(word),
            "wr_en": In(1), "wr_mask": In(word // self.granularity), "wr_data": In(word),
            "lane_en": In(1), "lane_entry": In(range(config.glb_bank_depth)),
            "lane_rd_en": In(lanes), "lane_wr_en": In(lanes),
            "lane_wr_data": In(data.ArrayLayout(word, lanes)), "lane_rd_data": Out(data.ArrayLayout(word, lanes)),
            "dma_addr": In(self.addr_bits), "dma_rd_en": In(1), "dma_wr_en": In(1), "dma_wr_data": In(word),
            "dma_rd_data": Out(word),
        })
        #: Simulation monitors: one bit per bank, 1 when the bank is read (written) this cycle.
        self.monitors = {"rd": Signal(config.glb_banks, name="mon_glb_rd"),
                         "wr": Signal(config.glb_banks, name="mon_glb_wr"),
                         "conflict": Signal(name="mon_glb_conflict")}

    @property
    def words(self) -> int:
        return self._words

    @property
    def addr_bits(self) -> int:
        return max(1, (self._words - 1).bit_length())

    @property
    def granularity(self) -> int:
        """Bits per write-mask bit: the greatest common divisor of the word and psum widths."""
        return math.gcd(self._config.glb_word_bits, self._config.psum_bits)

    @property
    def psum_lanes(self) -> int:
        """Banks that serve a psum lane of their own (``CommandFormat.psum_lanes``)."""
        return self._lanes

    @property
    def macros(self) -> dict[str, int]:
        """fakeram45 module name -> instances (empty for behavioural memory)."""
        if self._tiling is None:
            return {}
        (depth, width), deep, wide = self._tiling
        return {f"fakeram45_{depth}x{width}": self._config.glb_banks * deep * wide}

    def elaborate(self, platform):
        config, m = self._config, Module()
        depth = config.glb_bank_depth
        bank, dma_bank = Signal(range(max(2, config.glb_banks))), Signal(range(max(2, config.glb_banks)))
        entry, dma_entry = Signal(range(depth)), Signal(range(depth))
        m.d.comb += [bank.eq(self.addr // depth), entry.eq(self.addr % depth),
                     dma_bank.eq(self.dma_addr // depth), dma_entry.eq(self.dma_addr % depth)]
        read_bank, dma_read_bank = Signal.like(bank), Signal.like(dma_bank)
        with m.If(self.rd_en):
            m.d.sync += read_bank.eq(bank)
        with m.If(self.dma_rd_en):
            m.d.sync += dma_read_bank.eq(dma_bank)
        outputs, conflicts = [], []
        for index in range(config.glb_banks):
            port, conflict = self._bank_port(m, index, bank == index, entry, dma_bank == index, dma_entry)
            conflicts.append(conflict)
            if self._tiling is None:
                storage = memory.Memory(shape=config.glb_word_bits, depth=depth, init=[])
                m.submodules[f"bank{index}"] = storage
                write = storage.write_port(granularity=self.granularity)
                read = storage.read_port()
                m.d.comb += [
                    write.addr.eq(port["entry"]), write.data.eq(port["wr_data"]),
                    write.en.eq(Mux(port["wr_en"], port["wr_mask"], 0)),
                    read.addr.eq(port["entry"]), read.en.eq(port["rd_en"]),
                ]
                outputs.append(read.data)
            else:
                outputs.append(self._macro_bank(m, index, port))
            m.d.comb += [self.monitors["rd"][index].eq(port["rd_en"]), self.monitors["wr"][index].eq(port["wr_en"])]
            if index < self._lanes:
                m.d.comb += self.lane_rd_data[index].eq(outputs[-1])
        m.d.comb += self.monitors["conflict"].eq(Cat(conflicts).any())
        for selected, target in ((read_bank, self.rd_data), (dma_read_bank, self.dma_rd_data)):
            with m.Switch(selected):
                for index, value in enumerate(outputs):
                    with m.Case(index):
                        m.d.comb += target.eq(value)
        return m

    def _bank_port(self, m, index, selected, entry, dma_selected, dma_entry):
        """Bank ``index``'s access this cycle: from the transfer port when it addresses the bank, else from its
        psum lane while ``lane_en``, else from the word port; and whether two of them met on the bank."""
        config = self._config
        port = {"entry": Signal(range(config.glb_bank_depth), name=f"bank{index}_entry"),
                "rd_en": Signal(name=f"bank{index}_rd_en"), "wr_en": Signal(name=f"bank{index}_wr_en"),
                "wr_mask": Signal(len(self.wr_mask), name=f"bank{index}_wr_mask"),
                "wr_data": Signal(config.glb_word_bits, name=f"bank{index}_wr_data")}
        word_used = (self.rd_en | self.wr_en) & selected
        dma_used = (self.dma_rd_en | self.dma_wr_en) & dma_selected
        word_port = [port["entry"].eq(entry), port["rd_en"].eq(self.rd_en & selected),
                     port["wr_en"].eq(self.wr_en & selected), port["wr_mask"].eq(self.wr_mask),
                     port["wr_data"].eq(self.wr_data)]
        dma_port = [port["entry"].eq(dma_entry), port["rd_en"].eq(self.dma_rd_en), port["wr_en"].eq(self.dma_wr_en),
                    port["wr_mask"].eq((1 << len(self.wr_mask)) - 1), port["wr_data"].eq(self.dma_wr_data)]
        if index >= self._lanes:
            with m.If(dma_used):
                m.d.comb += dma_port
            with m.Else():
                m.d.comb += word_port
            return port, dma_used & word_used
        lane_used = self.lane_en & (self.lane_rd_en[index] | self.lane_wr_en[index])
        with m.If(dma_used):
            m.d.comb += dma_port
        with m.Elif(self.lane_en):
            m.d.comb += [port["entry"].eq(self.lane_entry), port["rd_en"].eq(self.lane_rd_en[index]),
                         port["wr_en"].eq(self.lane_wr_en[index]), port["wr_mask"].eq(self.wr_mask),
                         port["wr_data"].eq(self.lane_wr_data[index])]
        with m.Else():
            m.d.comb += word_port
        return port, dma_used & (word_used | lane_used)

    def _macro_bank(self, m, index, port):
        """One bank tiled from fakeram45 macros, driven by ``port`` (see :meth:`_bank_port`); its read data."""
        config = self._config
        (depth, width), deep, wide = self._tiling
        word = config.glb_word_bits
        bit_mask = Signal(word, name=f"bank{index}_bit_mask")
        m.d.comb += bit_mask.eq(Cat(bit.replicate(self.granularity) for bit in port["wr_mask"]))
        row = Signal(range(max(deep, 2)), name=f"bank{index}_row")
        read_row = Signal.like(row, name=f"bank{index}_read_row")
        m.d.comb += row.eq(port["entry"] // depth)
        with m.If(port["rd_en"]):
            m.d.sync += read_row.eq(row)
        rows = []
        for r in range(deep):
            chunks = []
            for c in range(wide):
                low, high = c * width, min((c + 1) * width, word)
                rd_out = Signal(width, name=f"bank{index}_r{r}_c{c}_rd_out")
                enable = (row == r) & (port["rd_en"] | port["wr_en"])
                pad = width - (high - low)
                m.submodules[f"bank{index}_r{r}_c{c}"] = Instance(
                    f"fakeram45_{depth}x{width}",
                    i_clk=ClockSignal(), o_rd_out=rd_out, i_ce_in=enable, i_we_in=port["wr_en"],
                    i_addr_in=(port["entry"] % depth)[:max(1, (depth - 1).bit_length())],
                    i_wd_in=Cat(port["wr_data"][low:high], Signal(pad)) if pad else port["wr_data"][low:high],
                    i_w_mask_in=Cat(bit_mask[low:high], Signal(pad)) if pad else bit_mask[low:high])
                chunks.append(rd_out[:high - low])
            rows.append(Cat(*chunks))
        data = Signal(word, name=f"bank{index}_rd_data")
        with m.Switch(read_row):
            for r, value in enumerate(rows):
                with m.Case(r):
                    m.d.comb += data.eq(value)
        return data
