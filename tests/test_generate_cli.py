"""``quidam generate --unit mac``: the files it writes and its errors (run as a subprocess)."""

import hashlib
import importlib.util
import json

import pytest

from quidam import __version__
from quidam.rtl_gen.emit import emit_verilog
from quidam.pe_types import PE_TYPES
from quidam.rtl_gen.mac import make_mac
from quidam_cli import quidam

PORTS = ("clk", "rst", "in_valid", "a", "w", "psum_in", "out_valid", "psum_out")
_NO_FP32 = pytest.mark.skipif(importlib.util.find_spec("quidam.rtl_gen.mac_fp32") is None,
                              reason="quidam.rtl_gen.mac_fp32 (the fp32 MAC) is not in this checkout yet")


@pytest.mark.parametrize("args, pe_type, widths", [
    pytest.param(["--pe", "fp32"], "fp32", (32, 32, 32), marks=_NO_FP32),
    ([], "int16", (16, 16, 32)),
    (["--pe", "lightpe1"], "lightpe1", (8, 4, 24)),
    (["--pe", "lightpe2", "--psum-bits", "20"], "lightpe2", (8, 8, 20)),
    (["--pe", "int", "--act-bits", "8", "--wt-bits", "4"], "int", (8, 4, 20)),
])
def test_generate_writes_verilog_and_sidecar(tmp_path, args, pe_type, widths):
    out = tmp_path / "m"
    done = quidam("generate", "--unit", "mac", *args, "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"wrote {out / 'mac.v'} and {out / 'config.json'}")
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "mac.v"]    # no temporary files left

    verilog = (out / "mac.v").read_text()
    assert "module mac(" in verilog and "parameter" not in verilog
    header = verilog[verilog.index("module mac("):verilog.index(");")]
    assert sorted(header[len("module mac("):].replace(" ", "").split(",")) == sorted(PORTS)
    assert "src =" not in verilog                                   # no checkout paths in the output

    sidecar = json.loads((out / "config.json").read_text())
    act, wt, psum = widths
    assert (sidecar["unit"], sidecar["top"], sidecar["pe_type"]) == ("mac", "mac", pe_type)
    assert (sidecar["act_bits"], sidecar["wt_bits"], sidecar["psum_bits"]) == widths
    mac = make_mac(pe_type, act_bits=act if pe_type == "int" else None, wt_bits=wt if pe_type == "int" else None,
                   psum_bits=psum)
    assert emit_verilog(mac, name="mac") == verilog                  # the file is that unit, emitted
    assert sidecar["latency"] == mac.latency
    assert {name: port["width"] for name, port in sidecar["ports"].items()} == {
        "clk": 1, "rst": 1, "in_valid": 1, "a": act, "w": wt, "psum_in": psum, "out_valid": 1, "psum_out": psum}
    assert sidecar["encodings"] == PE_TYPES[pe_type].encodings
    assert sidecar["verilog"] == {"file": "mac.v", "sha256": hashlib.sha256(verilog.encode()).hexdigest()}
    assert sidecar["generator"]["quidam"] == __version__


def test_generation_is_reproducible(tmp_path):
    for name in ("one", "two"):
        assert quidam("generate", "--pe", "lightpe2", "--out", str(tmp_path / name)).returncode == 0
    assert (tmp_path / "one" / "mac.v").read_bytes() == (tmp_path / "two" / "mac.v").read_bytes()


@pytest.mark.parametrize("args, message", [
    (["--pe", "int", "--act-bits", "0"], "act_bits: must be an integer in 2..16, not 0"),
    (["--pe", "int", "--wt-bits", "17"], "wt_bits: must be an integer in 2..16, not 17"),
    (["--pe", "int", "--act-bits", "8", "--wt-bits", "8", "--psum-bits", "12"],
     "psum_bits: must be at least the 16-bit product width"),
    (["--pe", "fp32", "--psum-bits", "24"], "psum_bits: pe_type fp32 accumulates in binary32"),
    (["--pe", "lightpe1", "--wt-bits", "8"], "wt_bits: pe_type lightpe1 has 4-bit"),
    (["--pe", "int8"], "pe_type: must be one of fp32, int16, lightpe1, lightpe2, int, not 'int8'"),
    (["--unit", "pe_array"], "unit: must be one of mac, accelerator, not 'pe_array'"),
    (["--unit", "accelerator", "--memory", "sram"], "memory: must be one of behavioural, macro, not 'sram'"),
])
def test_bad_options_exit_2_with_one_line(tmp_path, args, message):
    done = quidam("generate", *args, "--out", str(tmp_path / "m"))
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("error: ") and message in done.stderr
    assert done.stdout == "" and not (tmp_path / "m").exists()


@pytest.mark.parametrize("pe_type, widths", [("lightpe1", (8, 4, 24)), ("fp32", (32, 32, 32))])
def test_a_config_file_with_another_pe_type_takes_that_types_widths(tmp_path, pe_type, widths):
    # configs/eyeriss.yaml is int16 (16 x 16 -> 32): --pe re-derives the widths the command line leaves unset.
    out = tmp_path / "m"
    done = quidam("generate", "--unit", "mac", "--config", "configs/eyeriss.yaml", "--pe", pe_type, "--out", str(out))
    assert done.returncode == 0, done.stderr
    sidecar = json.loads((out / "config.json").read_text())
    assert (sidecar["pe_type"], sidecar["act_bits"], sidecar["wt_bits"], sidecar["psum_bits"]) == (pe_type, *widths)
