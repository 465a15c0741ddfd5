"""cocotb testbench of the whole accelerator (top module ``accelerator``).

The testbench plays the host and off-chip memory: it streams the schedule's
command words into ``cmd``, serves read and write requests from a word-array
memory at ``dram_bytes_per_cycle`` (a credit that grows by the bandwidth every
cycle of a transfer, one word per beat, at most one beat per cycle), and its
monitors count, every cycle, the events the analytical model predicts:
off-chip beats, GLB reads and writes, bus beats into the array, each PE's
scratchpad reads and writes and MACs (from simulation-only monitor wires of
the array, not from ports). The job arrives as a JSON file named by
``QUIDAM_ACCEL_JOB`` (``job.json``, written by
:func:`quidam.testbenches.accelerator_runner.run_layer`):

``commands``
    Command words, hexadecimal strings.
``dram``
    The initial memory image, hexadecimal words.
``word_bits``, ``dram_bytes_per_cycle``
    Off-chip word width and bandwidth.
``result``
    Where to write ``{"rtl_cycles", "accesses", "dram", "sim_seconds"}``.
``stall`` (optional)
    Off-chip backpressure: ``{"probability": P, "seed": N}``. In each cycle,
    with probability ``P``, the memory holds off: it refuses a request, offers
    no read beat, takes no write beat (the credit keeps growing, so beats then
    come in bursts). The results stay exact; only the cycles grow beyond the
    model's, which assumes a memory that is never late.
``trace`` (optional)
    When true, the result also holds ``trace``: every input port's value in
    every cycle from the first clock edge (``inputs``: names and widths;
    ``vectors``: one list of hexadecimal values per cycle) and each word
    written off-chip in order (``written``), so a gate-level simulation can
    replay the run and check its netlist (see
    :mod:`quidam.characterize.accelerator`).
"""

from __future__ import annotations

import json
import os
import random
import time
from pathlib import Path

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, ReadOnly, RisingEdge

from quidam.mapping.commands import DRAM_ADDR_BITS

__all__ = ["TB", "TRACED_INPUTS"]

#: The accelerator's input ports (the clock aside) a trace records, in vector order.
TRACED_INPUTS = ("rst", "cmd__valid", "cmd__payload", "rd_cmd__ready", "rd_data__valid", "rd_data__payload",
                 "wr_cmd__ready", "wr_data__ready")

_PE_MONITORS = {
    "macs": "mon_mac", "spad.ifmap_read": "mon_ifmap_rd", "spad.ifmap_write": "mon_ifmap_wr",
    "spad.filter_read": "mon_filter_rd", "spad.filter_write": "mon_filter_wr",
    "spad.psum_read": "mon_psum_rd", "spad.psum_write": "mon_psum_wr",
}


def _resolved(value) -> int:
    """An int from a logic vector, unknown bits as 0 (lanes of a psum word no output has written yet)."""
    return int(str(value).translate(_UNKNOWN_AS_ZERO), 2)


_UNKNOWN_AS_ZERO = str.maketrans("xXzZuUwW-", "000000000")


class _Transfer:
    """One off-chip request in progress: its next address, words left and credit in bytes."""

    def __init__(self, request: int):
        self.addr, self.left = request & ((1 << DRAM_ADDR_BITS) - 1), request >> DRAM_ADDR_BITS
        self.credit = 0

    def grant(self, bandwidth: int, word_bytes: int) -> bool:
        """Add one cycle of credit; whether a beat may go this cycle."""
        self.credit += bandwidth
        return self.left > 0 and self.credit >= word_bytes

    def beat(self, word_bytes: int) -> bool:
        """Account for one beat; whether it was the last."""
        self.credit -= word_bytes
        self.addr += 1
        self.left -= 1
        return not self.left


class TB:
    """Clock, reset, command driver, off-chip memory and monitors of one accelerator.

    Parameters
    ----------
    dut : cocotb handle
        The ``accelerator`` top module.
    commands : list of int
    dram : list of int
        Initial memory image, one int per word; written in place.
    word_bits, bandwidth : int
        Word width and bytes of credit per cycle.
    stall : float
        Probability that the memory holds off in a cycle (see ``stall`` above).
    seed : int
        Seed of the stalls.
    """

    def __init__(self, dut, *, commands: list[int], dram: list[int], word_bits: int, bandwidth: int,
                 stall: float = 0.0, seed: int = 0):
        self.dut, self.commands, self.dram = dut, commands, dram
        self.word_bytes, self.bandwidth = word_bits // 8, bandwidth
        self._stall, self._rng = stall, random.Random(seed)
        self.cycles = 0
        self.accesses = {key: 0 for key in (
            "dram.read", "dram.write", "glb.read", "glb.write", "array.ifmap_bus", "array.filter_bus",
            "array.psum_in", "array.psum_out", *_PE_MONITORS)}
        self._pe = {key: getattr(dut.array, name) for key, name in _PE_MONITORS.items()}
        for port in (dut.cmd__valid, dut.rd_data__valid, dut.wr_data__ready, dut.rst):
            port.value = 0
        dut.rd_cmd__ready.value = 1
        dut.wr_cmd__ready.value = 1
        Clock(dut.clk, 10, unit="ns").start()

    async def reset(self) -> None:
        self.dut.rst.value = 1
        await ClockCycles(self.dut.clk, 2)
        self.dut.rst.value = 0

    async def record(self, vectors: list[list[int]], written: list[int]) -> None:
        """Forever: after each rising edge, once inputs have settled, append every traced input's value
        (unknown bits as 0) to ``vectors`` and, when a write beat is offered and taken, its word to ``written``."""
        dut, edge, settled = self.dut, RisingEdge(self.dut.clk), ReadOnly()
        ports = [getattr(dut, name) for name in TRACED_INPUTS]
        while True:
            await edge
            await settled
            vectors.append([_resolved(port.value) for port in ports])
            if _resolved(dut.wr_data__valid.value) and _resolved(dut.wr_data__ready.value):
                written.append(_resolved(dut.wr_data__payload.value))

    async def run(self) -> None:
        """Stream every command, serve off-chip traffic, count; return when the last command finished."""
        dut, edge, settled = self.dut, RisingEdge(self.dut.clk), ReadOnly()
        acc = self.accesses
        glb, ctrl, array = dut.glb, dut.controller, dut.array
        queue = list(reversed(self.commands))
        reading = writing = None
        while True:
            await edge
            # Inputs for the cycle that starts now.
            dut.cmd__valid.value = 1 if queue else 0
            if queue:
                dut.cmd__payload.value = queue[-1]
            late = self._stall > 0 and self._rng.random() < self._stall
            dut.rd_cmd__ready.value = dut.wr_cmd__ready.value = int(not late)
            if reading:
                offer = reading.grant(self.bandwidth, self.word_bytes) and not late
                dut.rd_data__valid.value = int(offer)
                if offer:
                    dut.rd_data__payload.value = self.dram[reading.addr]
            else:
                dut.rd_data__valid.value = 0
            if writing:
                dut.wr_data__ready.value = int(writing.grant(self.bandwidth, self.word_bytes) and not late)
            else:
                dut.wr_data__ready.value = 0
            await settled
            # What happens at the next edge.
            busy = int(dut.busy.value)
            accepted = bool(queue) and int(dut.cmd__ready.value)
            if not busy and not queue:
                break
            self.cycles += 1
            if accepted:
                queue.pop()
            if int(dut.rd_cmd__valid.value) and int(dut.rd_cmd__ready.value):
                reading = _Transfer(dut.rd_cmd__payload.value.to_unsigned())
            elif reading and int(dut.rd_data__valid.value) and int(dut.rd_data__ready.value):
                acc["dram.read"] += 1
                if reading.beat(self.word_bytes):
                    reading = None
            if int(dut.wr_cmd__valid.value) and int(dut.wr_cmd__ready.value):
                writing = _Transfer(dut.wr_cmd__payload.value.to_unsigned())
            elif writing and int(dut.wr_data__valid.value) and int(dut.wr_data__ready.value):
                self.dram[writing.addr] = _resolved(dut.wr_data__payload.value)
                acc["dram.write"] += 1
                if writing.beat(self.word_bytes):
                    writing = None
            # One monitor bit per GLB bank: a wide reduction token reads (writes) one word in each lane's bank.
            glb_reads = int(glb.mon_glb_rd.value).bit_count()   # one bank: a 1-bit Logic, not an array
            glb_writes = int(glb.mon_glb_wr.value).bit_count()
            acc["glb.read"] += glb_reads
            acc["glb.write"] += glb_writes
            if int(glb.mon_glb_conflict.value):
                raise AssertionError(f"cycle {self.cycles}: a transfer and the array met on a GLB bank")
            acc["array.ifmap_bus"] += int(ctrl.ifmap.value[0])
            acc["array.filter_bus"] += int(ctrl.filters.value[0])
            # A token's initial psums: a column's, or a wide token's group's (read ahead on a prefetching pass).
            token = ctrl.token.value
            acc["array.psum_in"] += int(ctrl.psum_in_lanes.value).bit_count()
            if int(array.psum_out_valid.value):   # a column's sum, or a wide token's valid lanes
                acc["array.psum_out"] += int(ctrl.psum_lanes_valid.value).bit_count() if int(token[1]) else 1
            for key, handle in self._pe.items():
                acc[key] += handle.value.to_unsigned().bit_count()


@cocotb.test()
async def run_schedule(dut):
    """Run the job's schedule and record cycles, access counts and the final memory image."""
    job = json.loads(Path(os.environ["QUIDAM_ACCEL_JOB"]).read_text())
    dram = [int(word, 16) for word in job["dram"]]
    stall = job.get("stall") or {}
    tb = TB(dut, commands=[int(word, 16) for word in job["commands"]], dram=dram,
            word_bits=job["word_bits"], bandwidth=job["dram_bytes_per_cycle"],
            stall=stall.get("probability", 0.0), seed=stall.get("seed", 0))
    vectors: list[list[int]] = []
    written: list[int] = []
    if job.get("trace"):
        cocotb.start_soon(tb.record(vectors, written))
    await tb.reset()
    started = time.perf_counter()
    await tb.run()
    elapsed = time.perf_counter() - started
    result = {"rtl_cycles": tb.cycles, "accesses": tb.accesses, "sim_seconds": elapsed,
              "dram": [format(word, "x") for word in dram]}
    if job.get("trace"):
        result["trace"] = {"inputs": [[name, len(getattr(dut, name))] for name in TRACED_INPUTS],
                           "vectors": [[format(value, "x") for value in row] for row in vectors],
                           "written": [format(word, "x") for word in written]}
    Path(job["result"]).write_text(json.dumps(result))
