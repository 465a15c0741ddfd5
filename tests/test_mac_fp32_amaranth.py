"""The binary32 MAC in Amaranth's simulator against the golden model, and its emitted Verilog."""

import re

import numpy as np
import pytest
from amaranth.back import verilog
from amaranth.hdl import ClockDomain, Module
from amaranth.sim import Simulator

from quidam.formats.fp32 import fp32_corner_cases, fp32_mac_bits, fp32_random_operands
from quidam.rtl_gen.mac_fp32 import FP32MAC
from quidam.rtl_gen.mac_signature import MACSignature

# Units built only to read a property, or whose constructor raises, are never
# elaborated; Amaranth reports them when they are garbage-collected, which may
# be during a later test, so the filter covers the whole module.
pytestmark = pytest.mark.filterwarnings("ignore::amaranth.hdl.UnusedElaboratable")


def simulate(dut, cycles, reset_cycles=()):
    """Run ``dut`` for ``len(cycles)`` clock edges; ``cycles[i]`` is ``(in_valid, a, w, psum)``.

    Returns ``(out_valid, psum_out)`` sampled after each edge. Reset is asserted
    over the edges listed in ``reset_cycles``.
    """
    m = Module()
    m.domains.sync = domain = ClockDomain()
    m.submodules.dut = dut
    samples = []

    async def testbench(ctx):
        for i, (valid, a, w, psum) in enumerate(cycles):
            ctx.set(dut.in_valid, valid)
            ctx.set(dut.a, a)
            ctx.set(dut.w, w)
            ctx.set(dut.psum_in, psum)
            ctx.set(domain.rst, i in reset_cycles)
            await ctx.tick()
            samples.append((ctx.get(dut.out_valid), ctx.get(dut.psum_out)))

    sim = Simulator(m)
    sim.add_clock(1e-8)
    sim.add_testbench(testbench)
    sim.run()
    return samples


def expected_samples(latency, cycles, reset_cycles=()):
    """What ``simulate`` must return: each valid operation's result ``latency`` edges later."""
    expected = []
    for i in range(len(cycles)):
        j = i + 1 - latency                      # the cycle whose operation reaches the output now
        flushed = any(j <= r <= i for r in reset_cycles)
        if j >= 0 and cycles[j][0] and not flushed:
            expected.append((1, fp32_mac_bits(*cycles[j][1:])))
        else:
            expected.append((0, None))
    return expected


def assert_streams(dut, operations, reset_cycles=(), idle=()):
    """Stream ``operations`` one per cycle (plus idle cycles) and compare every sample."""
    cycles = [(1, *op) for op in operations] + [(0, 0, 0, 0)] * dut.latency
    for i in idle:
        cycles[i] = (0, *cycles[i][1:])
    samples = simulate(dut, cycles, reset_cycles)
    expected = expected_samples(dut.latency, cycles, reset_cycles)
    mismatches = [
        (i, got, want) for i, (got, want) in enumerate(zip(samples, expected))
        if got[0] != want[0] or (want[0] and got[1] != want[1])
    ]
    assert not mismatches, (
        f"{len(mismatches)} of {len(cycles)} cycles differ (cycle, (out_valid, psum_out), expected); "
        f"first: {[(i, (g[0], hex(g[1])), w) for i, g, w in mismatches[:5]]}"
    )
    return sum(valid for valid, _ in expected)


def test_signature_and_latency():
    dut = FP32MAC()
    assert dut.signature == MACSignature(act_bits=32, wt_bits=32, psum_bits=32)
    assert (dut.stages, dut.latency) == (4, 4)
    assert [FP32MAC(stages=s).latency for s in (1, 2, 3)] == [1, 2, 3]


@pytest.mark.parametrize("stages, error", [(0, ValueError), (5, ValueError), ("4", TypeError),
                                           (True, TypeError), (2.0, TypeError)])
def test_rejects_bad_stages(stages, error):
    with pytest.raises(error, match="pipeline stages must be"):
        FP32MAC(stages=stages)


def test_corner_and_random_back_to_back():
    operations = fp32_corner_cases() + fp32_random_operands(np.random.default_rng(2024), 10_000)
    assert assert_streams(FP32MAC(), operations) == len(operations)


@pytest.mark.parametrize("stages", [1, 2, 3])
def test_shallower_pipelines(stages):
    operations = fp32_corner_cases() + fp32_random_operands(np.random.default_rng(stages), 1000)
    assert assert_streams(FP32MAC(stages=stages), operations) == len(operations)


@pytest.mark.parametrize("stages", [1, 4])
def test_idle_cycles_and_reset(stages):
    rng = np.random.default_rng(11)
    operations = fp32_random_operands(rng, 200)
    idle = [int(i) for i in rng.choice(200, size=60, replace=False)]
    checked = assert_streams(FP32MAC(stages=stages), operations, reset_cycles=(50, 120, 121), idle=idle)
    assert 100 < checked < 140


def test_emits_contracted_ports():
    text = verilog.convert(FP32MAC(), name="mac")
    header = re.findall(r"^module (\w+)\(([^)]*)\);", text, re.MULTILINE)
    declarations = re.findall(r"^\s*(input|output)\s+(?:\[(\d+):0\]\s+)?(\w+);", text, re.MULTILINE)
    ports = {name: (direction, int(msb or 0) + 1) for direction, msb, name in declarations}
    assert [name for name, _ in header] == ["mac"]
    assert sorted(port.strip() for port in header[0][1].split(",")) == sorted(ports)
    assert ports == {
        "clk": ("input", 1), "rst": ("input", 1), "in_valid": ("input", 1),
        "a": ("input", 32), "w": ("input", 32), "psum_in": ("input", 32),
        "out_valid": ("output", 1), "psum_out": ("output", 32),
    }
