"""The characterization flow on a design with an SRAM macro (fakeram45), with the real tools."""

import random

import pytest

from quidam.characterize.activity import Stimulus
from quidam.characterize.design import design_from_verilog
from quidam.characterize.flow import characterize_point
from quidam.errors import PDKError

try:
    from quidam.pdk.sram import find_macro

    MACRO = find_macro(64, 32)
except PDKError as missing:
    pytest.skip(f"no Nangate45 data: {missing}", allow_module_level=True)

VERILOG = """module sramtop(clk, we, addr, wd, q);
  input clk, we;
  input [5:0] addr;
  input [31:0] wd;
  output reg [31:0] q;
  wire [31:0] rd;
  fakeram45_64x32 mem (.clk(clk), .rd_out(rd), .ce_in(1'b1), .we_in(we), .addr_in(addr), .wd_in(wd),
                       .w_mask_in(32'hffffffff));
  always @(posedge clk) q <= rd ^ wd;
endmodule
"""


def test_a_macro_is_a_black_box_counted_from_the_pdk_data(tmp_path):
    source = tmp_path / "sramtop.v"
    source.write_text(VERILOG)
    rng = random.Random(1)
    writes = [(1, address, rng.getrandbits(32)) for address in range(64)]
    reads = [(0, rng.randrange(64), rng.getrandbits(32)) for _ in range(100)]
    stimulus = Stimulus(inputs=(("we", 1), ("addr", 6), ("wd", 32)), vectors=tuple(writes + reads),
                        measure_from=64, measure_cycles=100, ops=100, op_name="read")
    design = design_from_verilog(source, top="sramtop", params={"case": "one macro"}, clock_mhz=500.0,
                                 stimulus=stimulus, macros=(MACRO.name,))
    metrics = characterize_point(design, runs_root=tmp_path / "runs", strict=True)

    assert metrics["synth__cells__macro_count"] == 1
    assert metrics["synth__cells__by_type"][MACRO.name] == {"count": 1, "area_um2": MACRO.area_um2}
    assert metrics["synth__area__macro_um2"] == MACRO.area_um2
    assert metrics["synth__area__total_um2"] == pytest.approx(
        metrics["synth__area__stdcell_um2"] + MACRO.area_um2)
    assert metrics["synth__cells__sequential_count"] == 32  # the q register
    assert metrics["sta__timing__startpoint"] == "mem"  # rd_out -> q is the worst path
    assert metrics["power__macro__leakage_w"] == pytest.approx(MACRO.leakage_w, rel=1e-5)
    assert metrics["power__macro__dynamic_w"] > MACRO.read_energy_j * 500e6 * 0.5
    assert metrics["provenance"]["pdk"][f"{MACRO.name}.lib"]
    assert metrics["power__read__energy_per_op_j"] > 0
