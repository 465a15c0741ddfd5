"""The issue's independent check of the fp32 MAC, end to end.

``quidam generate --unit mac --pe fp32 --out DIR`` writes a ``mac.v`` that an
independent testbench (:mod:`quidam.testbenches.mac_numpy_tb`: drives only the
ports, takes only ``latency`` from ``config.json``, imports nothing of quidam)
finds bit-exact against numpy float32 on random and corner-case operands.
"""

import importlib.util
import subprocess
import sys

import pytest

from quidam.testbenches.runner import run_cocotb

RANDOM_OPS = 10_000

pytestmark = pytest.mark.skipif(importlib.util.find_spec("quidam.rtl_gen.mac_fp32") is None,
                                reason="quidam.rtl_gen.mac_fp32 (the fp32 MAC) is not in this checkout yet")


def test_generated_fp32_mac_matches_numpy_float32(tmp_path):
    out = tmp_path / "m"
    done = subprocess.run([sys.executable, "-m", "quidam", "generate", "--unit", "mac", "--pe", "fp32",
                           "--out", str(out)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    result = run_cocotb(out, verilog=out / "mac.v", toplevel="mac", test_module="quidam.testbenches.mac_numpy_tb",
                        extra_env={"QUIDAM_MAC_CONFIG": str(out / "config.json"), "QUIDAM_OPS": str(RANDOM_OPS)})
    print(f"\nfp32 against numpy float32: checked {result.checked}")
    assert result.checked["numpy_random"] == RANDOM_OPS
    assert result.checked["numpy_corner_cases"] == 28 ** 3
