"""Generated MAC units in simulation (cocotb + Icarus) and under Verilator lint.

One build folder per parameter set under ``sim_build/`` (gitignored): the
generated ``mac.v`` and ``config.json``, the compiled simulation, ``sim.log``
and ``results.xml``. Each run streams 10,000 random operations and then every
directed corner case of the unit's format, checking each result against the
golden model exactly ``latency`` cycles (from ``config.json``) after it went in.
"""

import importlib.util
import shutil
import time
from pathlib import Path

import pytest

from quidam.config import AcceleratorConfig
from quidam.testbenches.runner import VERILATOR_WAIVERS, build_dir_name, generate_mac, lint_verilog, run_mac_test

BUILD_ROOT = Path(__file__).resolve().parents[1] / "sim_build"
RANDOM_OPS = 10_000

_FP32_MISSING = any(importlib.util.find_spec(name) is None
                    for name in ("quidam.rtl_gen.mac_fp32", "quidam.formats.fp32"))
_fp32 = pytest.param(AcceleratorConfig(pe_type="fp32"), id="fp32", marks=pytest.mark.skipif(
    _FP32_MISSING, reason="the fp32 MAC (quidam.rtl_gen.mac_fp32) or its golden model is not in this checkout yet"))

UNITS = [
    _fp32,
    pytest.param(AcceleratorConfig(pe_type="int16"), id="int16"),
    pytest.param(AcceleratorConfig(pe_type="lightpe1"), id="lightpe1"),
    pytest.param(AcceleratorConfig(pe_type="lightpe2"), id="lightpe2"),
    pytest.param(AcceleratorConfig(pe_type="int", act_bits=4, wt_bits=4), id="int4x4"),
    pytest.param(AcceleratorConfig(pe_type="int", act_bits=8, wt_bits=8), id="int8x8"),
    pytest.param(AcceleratorConfig(pe_type="int", act_bits=8, wt_bits=4), id="int8x4"),
    # The edges of the width ranges: 2-bit activations, 16-bit weights, a 64-bit psum.
    pytest.param(AcceleratorConfig(pe_type="int", act_bits=2, wt_bits=16, psum_bits=64), id="int2x16-p64"),
]


# Stress knob: probability of an idle cycle before each operation. Every unit
# runs back to back; the ones listed in IDLE_UNITS also run with bubbles.
IDLE = 0.3
IDLE_UNITS = ("fp32", "int16", "lightpe2", "int8x4")
RUNS = [pytest.param(unit.values[0], 0.0, id=f"{unit.id}-back_to_back", marks=unit.marks) for unit in UNITS] + [
    pytest.param(unit.values[0], IDLE, id=f"{unit.id}-idle", marks=unit.marks) for unit in UNITS
    if unit.id in IDLE_UNITS
]


@pytest.mark.parametrize("config, idle", RUNS)
def test_mac(config, idle, record_property):
    """10,000 random operations then the directed corner cases, checked against the golden model."""
    start = time.perf_counter()
    result = run_mac_test(config, BUILD_ROOT, variant="idle" if idle else None, ops=RANDOM_OPS,
                          seed=2 if idle else 1, idle=idle)
    counts = ", ".join(f"{test} {count}" for test, count in result.checked.items())
    summary = (f"{build_dir_name(config, 'idle' if idle else None)}: checked {sum(result.checked.values())} "
               f"operations ({counts}) in {time.perf_counter() - start:.1f} s")
    print("\n" + summary)
    record_property("checked", summary)
    assert result.tests == ("random_ops", "directed_ops")
    assert result.checked["random_ops"] == RANDOM_OPS
    assert result.checked["directed_ops"] > 0


@pytest.mark.skipif(shutil.which("verilator") is None, reason="verilator is not on PATH")
@pytest.mark.parametrize("config", UNITS)
def test_mac_passes_verilator_lint(config, tmp_path):
    """``verilator --lint-only -Wall``, with only the waivers of VERILATOR_WAIVERS."""
    build_dir = generate_mac(config, tmp_path)
    lint = lint_verilog(build_dir / "mac.v")
    assert lint.returncode == 0, f"waived: {', '.join(VERILATOR_WAIVERS)}\n{lint.stdout}{lint.stderr}"
