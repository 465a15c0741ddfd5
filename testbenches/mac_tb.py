"""cocotb testbench for a generated MAC unit (top module ``mac``), any PE type.

The unit is described by its ``config.json`` sidecar; the expected results
come from the golden models (:mod:`quidam.testbenches.mac_model`) and each is
checked exactly ``latency`` cycles (the sidecar's, i.e. the generator's own
``latency`` property) after its operation was presented. Parameters arrive in
environment variables (the runner's ``extra_env``):

``QUIDAM_MAC_CONFIG``
    Path of the unit's ``config.json`` (required).
``QUIDAM_OPS``
    Number of random operations (default 10000).
``QUIDAM_SEED``
    Seed of the stimulus (default 1).
``QUIDAM_IDLE``
    Probability of an idle cycle (``in_valid`` low, random data on the
    operand ports) before each operation; 0 (the default) streams the
    operations back to back, one per cycle.
``QUIDAM_SUMMARY``
    Optional path of a JSON-lines file; each test appends
    ``{"test": name, "checked": n, "cycles": c}``.
"""

from __future__ import annotations

import collections
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, ReadOnly, RisingEdge

from quidam.testbenches.mac_model import directed_operations, golden_mac, random_operations

__all__ = ["TB", "Settings", "run_test"]

# Mismatches reported in full when a run fails.
_SHOWN_MISMATCHES = 8


@dataclass(frozen=True)
class Settings:
    """Test parameters read from the environment (see the module notes)."""

    sidecar: dict[str, Any]
    ops: int
    seed: int
    idle: float
    summary: Path | None

    @classmethod
    def from_env(cls) -> Settings:
        """Read ``QUIDAM_MAC_CONFIG`` (required) and the optional variables, with their defaults."""
        sidecar = json.loads(Path(os.environ["QUIDAM_MAC_CONFIG"]).read_text())
        summary = os.environ.get("QUIDAM_SUMMARY")
        return cls(sidecar=sidecar, ops=int(os.environ.get("QUIDAM_OPS", "10000")),
                   seed=int(os.environ.get("QUIDAM_SEED", "1")), idle=float(os.environ.get("QUIDAM_IDLE", "0")),
                   summary=Path(summary) if summary else None)


class TB:
    """Clock, reset, driver, monitor and scoreboard of one MAC unit.

    The monitor watches the ports only: after every rising edge it reads the
    operation presented for the next edge (``in_valid``, ``a``, ``w``,
    ``psum_in``) and the result the edge produced (``out_valid``,
    ``psum_out``). An operation seen after edge ``n`` must come out, equal to
    the golden model's result, after edge ``n + latency``; ``out_valid`` must
    be low on every other edge.

    Parameters
    ----------
    dut : cocotb handle
        The ``mac`` top module.
    golden : callable
        ``(a, w, psum_in) -> psum_out`` on bit patterns.
    latency : int
        Cycles from an operation to its result.
    """

    def __init__(self, dut, golden: Callable[[int, int, int], int], *, latency: int):
        self.dut, self.golden, self.latency = dut, golden, latency
        self.log = dut._log
        self.checked = 0
        self.cycles = 0
        self.mismatches: list[str] = []
        self._pending: collections.deque[tuple[int, int, tuple[int, int, int]]] = collections.deque()
        self._widths = [len(port) for port in (dut.a, dut.w, dut.psum_in)]
        for port in (dut.in_valid, dut.a, dut.w, dut.psum_in, dut.rst):
            port.value = 0
        Clock(dut.clk, 10, unit="ns").start()
        cocotb.start_soon(self._monitor())

    async def reset(self, cycles: int = 2) -> None:
        """Hold ``rst`` high for ``cycles`` clock cycles with no operation presented."""
        self.dut.rst.value = 1
        await ClockCycles(self.dut.clk, cycles)
        self.dut.rst.value = 0

    async def drive(self, operations, *, idle: float = 0.0, rng: np.random.Generator) -> None:
        """Present ``operations`` one per cycle; before each, an idle cycle with probability ``idle``."""
        dut, edge = self.dut, RisingEdge(self.dut.clk)
        for a, w, psum in operations:
            while idle and rng.random() < idle:
                await edge
                dut.in_valid.value = 0
                dut.a.value, dut.w.value, dut.psum_in.value = (
                    int(rng.integers(0, 1 << bits, dtype=np.uint64)) for bits in self._widths)
            await edge
            dut.in_valid.value = 1
            dut.a.value, dut.w.value, dut.psum_in.value = a, w, psum
        await edge
        dut.in_valid.value = 0

    async def drain(self) -> None:
        """Wait until every presented operation's result is due, plus one cycle."""
        await ClockCycles(self.dut.clk, self.latency + 1)

    async def _monitor(self) -> None:
        dut, edge, read_only = self.dut, RisingEdge(self.dut.clk), ReadOnly()
        while True:
            await edge
            await read_only
            self.cycles += 1
            if dut.out_valid.value:
                self._check(dut.psum_out.value.to_unsigned())
            elif self._pending and self._pending[0][0] == self.cycles:
                self._mismatch(self._pending.popleft(), "out_valid low")
            if dut.in_valid.value and not dut.rst.value:
                operands = (dut.a.value.to_unsigned(), dut.w.value.to_unsigned(), dut.psum_in.value.to_unsigned())
                self._pending.append((self.cycles + self.latency, self.golden(*operands), operands))

    def _check(self, got: int) -> None:
        if not self._pending:
            self.mismatches.append(f"cycle {self.cycles}: out_valid high with no operation outstanding")
            return
        entry = self._pending.popleft()
        due, expected, _ = entry
        if due != self.cycles:
            self._mismatch(entry, f"result after {self.cycles - due + self.latency} cycles, not {self.latency}")
        elif got != expected:
            self._mismatch(entry, f"psum_out {got:#x}")
        self.checked += 1

    def _mismatch(self, entry, what: str) -> None:
        due, expected, (a, w, psum) = entry
        self.mismatches.append(f"a={a:#x} w={w:#x} psum_in={psum:#x}: {what}, expected {expected:#x} (due cycle {due})")

    def finish(self, name: str, summary: Path | None) -> None:
        """Fail on any mismatch or lost result; log and record the number of checked operations."""
        assert not self._pending, f"{len(self._pending)} results never came out"
        if self.mismatches:
            shown = "\n  ".join(self.mismatches[:_SHOWN_MISMATCHES])
            raise AssertionError(f"{len(self.mismatches)} of {self.checked} operations wrong:\n  {shown}")
        self.log.info("checked %d operations in %d cycles", self.checked, self.cycles)
        if summary is not None:
            with summary.open("a") as file:
                file.write(json.dumps({"test": name, "checked": self.checked, "cycles": self.cycles}) + "\n")


async def run_test(dut, name: str, make_operations: Callable[[Settings, np.random.Generator], list]) -> int:
    """Reset the unit, stream the operations, check every result; return the number checked.

    ``make_operations(settings, rng)`` builds the stimulus; the idle-cycle
    probability, seed and latency come from :class:`Settings`.
    """
    settings = Settings.from_env()
    rng = np.random.default_rng(settings.seed)
    operations = make_operations(settings, rng)
    tb = TB(dut, golden_mac(settings.sidecar), latency=settings.sidecar["latency"])
    await tb.reset()
    await tb.drive(operations, idle=settings.idle, rng=rng)
    await tb.drain()
    tb.finish(name, settings.summary)
    assert tb.checked == len(operations), f"checked {tb.checked} of {len(operations)} operations"
    return tb.checked


@cocotb.test()
async def random_ops(dut):
    """``QUIDAM_OPS`` random operations (a tenth with extreme fields)."""
    await run_test(dut, "random_ops", lambda settings, rng: random_operations(settings.sidecar, rng, settings.ops))


@cocotb.test()
async def directed_ops(dut):
    """The corner cases of the unit's number format."""
    await run_test(dut, "directed_ops", lambda settings, rng: directed_operations(settings.sidecar))
