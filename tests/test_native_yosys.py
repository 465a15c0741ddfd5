"""``quidam-yosys``: the native Yosys the flow runs by default (the WebAssembly one runs out of memory at scale)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig

import pytest

from quidam.characterize.synth import synthesize, uncompressed_liberty
from quidam.characterize.tools import yosys_tool
from quidam.native_yosys import main
from quidam.pdk.locate import cell_library_path

# A registered 8 x 8 multiply-accumulate: small enough for seconds, with enough logic for ABC to choose.
_MAC = """
module mac(input clk, input rst, input en, input [7:0] a, input [7:0] b, output reg [19:0] acc);
  always @(posedge clk)
    if (rst) acc <= 0;
    else if (en) acc <= acc + a * b;
endmodule
"""


def _native():
    # Installed beside this interpreter's own scripts (make test runs .venv/bin/python without activating it).
    path = shutil.which("quidam-yosys") or shutil.which("quidam-yosys", path=sysconfig.get_path("scripts"))
    if path is None:
        pytest.fail("quidam-yosys is not installed: `pip install -e .` installs it with quidam")
    return yosys_tool(path)


def test_the_flow_runs_the_native_build_by_default(monkeypatch):
    monkeypatch.delenv("QUIDAM_YOSYS", raising=False)
    default = yosys_tool()
    assert default.version == _native().version
    assert default.argv[0] == sys.executable   # no console script needs to be on PATH


def test_the_native_build_is_the_pinned_release():
    native, wasm = _native().version, yosys_tool("yowasp").version
    # Same release and commit, another compiler: the version line (part of the design id) tells them apart.
    assert native.split(",")[0] == wasm.split(",")[0] and native != wasm


def test_the_native_build_maps_a_design_as_the_webassembly_one(tmp_path):
    liberty = uncompressed_liberty(cell_library_path("typ"), tmp_path / "lib")
    source = tmp_path / "mac.v"
    source.write_text(_MAC)
    found = {}
    for name, tool in (("native", _native()), ("wasm", yosys_tool("yowasp"))):
        stage = tmp_path / name
        stage.mkdir()
        found[name] = synthesize(tool, stage_dir=stage, verilog=source, top="mac", clock_port="clk",
                                 liberty=liberty, macros=[], clock_period_ns=5.0)
    for metric in ("synth__area__total_um2", "synth__cells__count", "synth__cells__sequential_count"):
        assert found["native"][metric] == found["wasm"][metric], metric
    assert found["native"]["synth__cells__sequential_count"] == 20


def test_a_failing_script_exits_non_zero_with_the_error(tmp_path):
    script = tmp_path / "bad.ys"
    script.write_text(f'read_verilog "{tmp_path / "missing.v"}"\n')
    done = subprocess.run([sys.executable, "-m", "quidam.native_yosys", str(script)], capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 1 and "ERROR" in done.stdout + done.stderr and "missing.v" in done.stdout + done.stderr


@pytest.mark.parametrize("argv", [[], ["-s", "x.ys"], ["a.ys", "b.ys"]])
def test_bad_arguments_are_refused_with_the_usage(argv, capsys):
    assert main(argv) == 2
    assert "usage: quidam-yosys -V | quidam-yosys SCRIPT.ys" in capsys.readouterr().err
