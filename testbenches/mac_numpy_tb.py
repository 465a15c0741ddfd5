"""Independent cocotb check of a generated fp32 MAC against numpy float32 arithmetic.

Deliberately apart from the rest of quidam: it imports nothing from it, drives
only the ports of the top module ``mac`` and takes nothing from the generator
but ``latency`` from the ``config.json`` next to the Verilog. The reference is
numpy's float32 ``a * w + psum`` (two roundings, to nearest even, subnormals
kept). Results must match bit for bit, except that where numpy gives a NaN
the unit must give a NaN (payloads are not part of the contract).

Environment: ``QUIDAM_MAC_CONFIG`` (path of ``config.json``), ``QUIDAM_OPS``
(random operations, default 10000), ``QUIDAM_SEED`` (default 1) and
``QUIDAM_SUMMARY`` (optional JSON-lines file for ``{"test", "checked"}``).
"""

import json
import os
from pathlib import Path

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, ReadOnly, RisingEdge

__all__ = ["corner_operands", "random_operands", "reference"]

_F32 = np.finfo(np.float32)
# Special and boundary values, each with both signs.
_CORNERS = np.array([0.0, 1.0, 1.5, 2.0, 3.0, _F32.eps, _F32.smallest_subnormal, _F32.smallest_normal,
                     _F32.smallest_normal - _F32.smallest_subnormal, _F32.max, 2.0 ** 64, 2.0 ** -64,
                     np.inf, np.nan], dtype=np.float32)


def corner_operands() -> np.ndarray:
    """Every ``(a, w, psum)`` triple of the corner values with both signs, as uint32 patterns, shape (n, 3)."""
    values = np.concatenate([_CORNERS, -_CORNERS]).view(np.uint32)
    grid = np.stack(np.meshgrid(values, values, values, indexing="ij"), axis=-1)
    return grid.reshape(-1, 3)


def random_operands(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` random triples: half uniform bit patterns, half values of comparable magnitude, shape (n, 3)."""
    patterns = rng.integers(0, 1 << 32, size=(n, 3), dtype=np.uint64).astype(np.uint32)
    magnitude = np.exp2(rng.integers(-140, 120, size=(n, 1))).astype(np.float32)
    a = (rng.standard_normal((n, 1)) * magnitude).astype(np.float32)
    w = rng.standard_normal((n, 1)).astype(np.float32)
    psum = -(a * w) * (1 + rng.integers(-3, 4, size=(n, 1)) * _F32.eps)            # near cancellation
    close = np.concatenate([a, w, psum.astype(np.float32)], axis=1).view(np.uint32)
    return np.where(rng.random((n, 1)) < 0.5, patterns, close)


def reference(operands: np.ndarray) -> np.ndarray:
    """numpy float32 ``a * w + psum`` for uint32 triples, as uint32 patterns."""
    a, w, psum = (operands[:, i].view(np.float32) for i in range(3))
    with np.errstate(all="ignore"):
        return (a * w + psum).astype(np.float32).view(np.uint32)


async def _check(dut, operands: np.ndarray, name: str) -> None:
    config = json.loads(Path(os.environ["QUIDAM_MAC_CONFIG"]).read_text())
    latency = config["latency"]
    expected = reference(operands)
    Clock(dut.clk, 10, unit="ns").start()
    dut.in_valid.value, dut.a.value, dut.w.value, dut.psum_in.value = 0, 0, 0, 0
    dut.rst.value = 1
    await ClockCycles(dut.clk, 2)
    dut.rst.value = 0

    edge, results = RisingEdge(dut.clk), []
    for cycle in range(len(operands) + latency):
        await edge
        if cycle < len(operands):
            a, w, psum = (int(x) for x in operands[cycle])
            dut.in_valid.value, dut.a.value, dut.w.value, dut.psum_in.value = 1, a, w, psum
        else:
            dut.in_valid.value = 0
        await ReadOnly()
        if cycle >= latency:      # the operation set after edge k comes out after edge k + latency
            assert dut.out_valid.value == 1, f"out_valid low {latency} cycles after operation {cycle - latency}"
            results.append(dut.psum_out.value.to_unsigned())
        else:
            assert dut.out_valid.value == 0, f"out_valid high before any result was due (cycle {cycle})"

    got = np.array(results, dtype=np.uint32)
    nan = np.isnan(expected.view(np.float32))
    wrong = np.flatnonzero(np.where(nan, ~np.isnan(got.view(np.float32)), got != expected))
    shown = "; ".join(f"a={operands[i, 0]:#010x} w={operands[i, 1]:#010x} psum={operands[i, 2]:#010x}: "
                      f"got {got[i]:#010x}, numpy {expected[i]:#010x}" for i in wrong[:8])
    assert not wrong.size, f"{wrong.size} of {len(operands)} results differ from numpy float32: {shown}"
    dut._log.info("checked %d operations against numpy float32", len(operands))
    if os.environ.get("QUIDAM_SUMMARY"):
        with open(os.environ["QUIDAM_SUMMARY"], "a") as file:
            file.write(json.dumps({"test": name, "checked": len(operands)}) + "\n")


@cocotb.test()
async def numpy_corner_cases(dut):
    """Every triple of signed zeros, ones, extreme normals and subnormals, infinities and NaN."""
    await _check(dut, corner_operands(), "numpy_corner_cases")


@cocotb.test()
async def numpy_random(dut):
    """Random bit patterns and near-cancelling values of comparable magnitude."""
    rng = np.random.default_rng(int(os.environ.get("QUIDAM_SEED", "1")))
    await _check(dut, random_operands(rng, int(os.environ.get("QUIDAM_OPS", "10000"))), "numpy_random")
