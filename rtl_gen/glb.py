"""The global buffer: ``glb_banks`` single-ported banks of ``glb_bank_depth`` words."""

import math

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import memory, wiring
from amaranth.lib.wiring import In, Out

from quidam.config import AcceleratorConfig

__all__ = ["GlobalBuffer"]


class GlobalBuffer(wiring.Component):
    """A banked, single-ported word memory with lane write masks.

    Word address ``a`` lives in bank ``a // glb_bank_depth``, entry
    ``a % glb_bank_depth``. One access per cycle: a read (``rd_en``; the word
    appears on ``rd_data`` the next cycle and stays until the next read) or a
    write of the lanes selected by ``wr_mask`` (one bit per
    :attr:`granularity` bits, so a psum can be written into its lane of a
    packed word). Each bank has the ports of a fakeram45 macro (address, write
    enable, bit mask, data in, data out), which is what the macro
    implementation instantiates.

    Parameters
    ----------
    config : AcceleratorConfig

    Members
    -------
    addr : In(addr_bits)
    rd_en : In(1)
    rd_data : Out(glb_word_bits)
    wr_en : In(1)
    wr_mask : In(glb_word_bits // granularity)
    wr_data : In(glb_word_bits)
    """

    def __init__(self, config: AcceleratorConfig):
        self._config = config
        self._words = config.glb_banks * config.glb_bank_depth
        super().__init__({
            "addr": In(self.addr_bits), "rd_en": In(1), "rd_data": Out(config.glb_word_bits),
            "wr_en": In(1), "wr_mask": In(config.glb_word_bits // self.granularity),
            "wr_data": In(config.glb_word_bits),
        })
        self.monitors = {"rd": Signal(name="mon_glb_rd"), "wr": Signal(name="mon_glb_wr")}

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
    def read_latency(self) -> int:
        return 1

    def elaborate(self, platform):
        config, m = self._config, Module()
        depth = config.glb_bank_depth
        bank = Signal(range(config.glb_banks))
        entry = Signal(range(depth))
        m.d.comb += [bank.eq(self.addr // depth), entry.eq(self.addr % depth)]
        read_bank = Signal.like(bank)
        with m.If(self.rd_en):
            m.d.sync += read_bank.eq(bank)
        outputs = []
        for index in range(config.glb_banks):
            storage = memory.Memory(shape=config.glb_word_bits, depth=depth, init=[])
            m.submodules[f"bank{index}"] = storage
            write = storage.write_port(granularity=self.granularity)
            read = storage.read_port()
            selected = bank == index
            m.d.comb += [
                write.addr.eq(entry), write.data.eq(self.wr_data),
                write.en.eq(Mux(self.wr_en & selected, self.wr_mask, 0)),
                read.addr.eq(entry), read.en.eq(self.rd_en & selected),
            ]
            outputs.append(read.data)
        with m.Switch(read_bank):
            for index, data in enumerate(outputs):
                with m.Case(index):
                    m.d.comb += self.rd_data.eq(data)
        m.d.comb += [self.monitors["rd"].eq(self.rd_en), self.monitors["wr"].eq(self.wr_en)]
        return m
