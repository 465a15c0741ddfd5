"""The accelerator top: controller, global buffer and PE array behind off-chip streams."""

from amaranth.hdl import Module
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from quidam.config import AcceleratorConfig
from quidam.mapping.commands import CommandFormat

from .controller import Controller, dram_command_layout
from .glb import GlobalBuffer
from .pe import filter_spad_macro
from .pe_array import PEArray

__all__ = ["Accelerator"]


class Accelerator(wiring.Component):
    """A row-stationary DNN accelerator for one :class:`~quidam.config.AcceleratorConfig`.

    The schedule arrives on ``cmd`` (command words of
    :class:`~quidam.mapping.commands.CommandFormat`); off-chip memory is
    reached through four ``lib.stream`` interfaces: read requests and their
    data, write requests and their data, one GLB word per beat. The hardware
    is independent of the layer: everything layer-specific is in the
    commands.

    Parameters
    ----------
    config : AcceleratorConfig
    memory : {"behavioural", "macro"}
        How the memories are built: ``macro`` tiles the global buffer's banks
        from fakeram45 macros (see :class:`~quidam.rtl_gen.glb.GlobalBuffer`)
        and builds each PE's filter scratchpad from one where that beats
        flip-flops (:func:`~quidam.rtl_gen.pe.filter_spad_macro`).
    macro_shapes : sequence of (int, int)
        The fakeram45 ``(depth, width)`` shapes available, for ``macro``.

    Members
    -------
    cmd : In(stream.Signature(command_bits))
    rd_cmd : Out(stream.Signature(addr, words))
    rd_data : In(stream.Signature(glb_word_bits))
    wr_cmd : Out(stream.Signature(addr, words))
    wr_data : Out(stream.Signature(glb_word_bits))
    busy : Out(1)
        A command is executing.
    """

    def __init__(self, config: AcceleratorConfig, *, memory: str = "behavioural", macro_shapes=()):
        self._config = config
        filter_macro = filter_spad_macro(config, macro_shapes) if memory == "macro" else None
        self._array = PEArray(config, filter_macro=filter_macro)
        self._glb = GlobalBuffer(config, memory=memory, macro_shapes=macro_shapes)
        self._controller = Controller(config, result_delay=self._array.result_delay,
                                      mac_latency=self._array.mac_latency, glb_addr_bits=self._glb.addr_bits,
                                      glb_granularity=self._glb.granularity)
        word = config.glb_word_bits
        super().__init__({
            "cmd": In(stream.Signature(CommandFormat(config).width)),
            "rd_cmd": Out(stream.Signature(dram_command_layout(config))),
            "rd_data": In(stream.Signature(word)),
            "wr_cmd": Out(stream.Signature(dram_command_layout(config))),
            "wr_data": Out(stream.Signature(word)),
            "busy": Out(1),
        })

    @property
    def config(self) -> AcceleratorConfig:
        return self._config

    @property
    def array(self) -> PEArray:
        return self._array

    @property
    def glb(self) -> GlobalBuffer:
        return self._glb

    @property
    def macros(self) -> dict[str, int]:
        """fakeram45 module name -> instances in the whole design."""
        counts = dict(self._glb.macros)
        for name, count in self._array.macros.items():
            counts[name] = counts.get(name, 0) + count
        return counts

    @property
    def timing(self) -> dict[str, int]:
        """The latencies the analytical model needs, read from the blocks that have them."""
        return {
            "mac_latency": self._array.mac_latency,
            "accumulate_interval": self._array.accumulate_interval,
            "result_delay": self._array.result_delay,
            "psum_read_span": self._array.psum_read_span,
            "reduce_beside": int(self._array.reduces_beside_compute),
            "drain_latency": self._controller.drain_latency,
        }

    def elaborate(self, platform):
        m = Module()
        m.submodules.controller = ctrl = self._controller
        m.submodules.glb = glb = self._glb
        m.submodules.array = array = self._array
        for name in ("cmd", "rd_data"):
            wiring.connect(m, wiring.flipped(getattr(self, name)), getattr(ctrl, name))
        for name in ("rd_cmd", "wr_cmd", "wr_data"):
            wiring.connect(m, getattr(ctrl, name), wiring.flipped(getattr(self, name)))
        m.d.comb += self.busy.eq(ctrl.busy)
        m.d.comb += [
            glb.addr.eq(ctrl.glb_addr), glb.rd_en.eq(ctrl.glb_rd_en), ctrl.glb_rd_data.eq(glb.rd_data),
            glb.wr_en.eq(ctrl.glb_wr_en), glb.wr_mask.eq(ctrl.glb_wr_mask), glb.wr_data.eq(ctrl.glb_wr_data),
            glb.lane_en.eq(ctrl.lane_en), glb.lane_entry.eq(ctrl.lane_entry), glb.lane_rd_en.eq(ctrl.lane_rd_en),
            glb.lane_wr_en.eq(ctrl.lane_wr_en),
            glb.lane_wr_data.eq(ctrl.lane_wr_data), ctrl.lane_rd_data.eq(glb.lane_rd_data),
            glb.dma_addr.eq(ctrl.dma_addr), glb.dma_wr_en.eq(ctrl.dma_wr_en), glb.dma_wr_data.eq(ctrl.dma_wr_data),
        ]
        m.d.comb += [
            array.rows_config.eq(ctrl.rows_config), array.filters.eq(ctrl.filters), array.ifmap.eq(ctrl.ifmap),
            array.compute.eq(ctrl.compute), array.token.eq(ctrl.token), array.psum_init.eq(ctrl.psum_init),
            array.psum_lanes_init.eq(ctrl.psum_lanes_init),
            ctrl.psum_out_valid.eq(array.psum_out_valid), ctrl.psum_out.eq(array.psum_out),
            ctrl.psum_lanes_out.eq(array.psum_lanes_out),
        ]
        return m
