"""The characterization flow on the MAC units, with the real tools (Yosys, OpenSTA, Icarus): no mocks.

Each PE type's MAC is characterized once per test process at 500 MHz with a
short workload (module-scoped fixtures sharing one runs root).
"""

import hashlib
import importlib.util
import json
import os
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from quidam.characterize.activity import count_toggles
from quidam.characterize.design import design_from_verilog
from quidam.characterize.flow import PointFailed, characterize_point
from quidam.characterize.mac import mac_design
from quidam.characterize.power import parse_power_report
from quidam.characterize.run_dir import STAGES, canonical_json
from quidam.characterize.tools import sta_tool
from quidam.cli import main
from quidam.config import AcceleratorConfig
from quidam.errors import PDKError, ToolError

try:
    from quidam.pdk.locate import resolve_pdk_dir

    resolve_pdk_dir()
except PDKError as missing:
    pytest.skip(f"no Nangate45 data: {missing}", allow_module_level=True)

CLOCK_MHZ = 500.0
OPS = 400
HAS_FP32 = importlib.util.find_spec("quidam.rtl_gen.mac_fp32") is not None

SYNTH_FILES = ("synth.ys", "synth.log", "netlist.v", "stat.json")
STA_FILES = ("constraints.sdc", "sta.tcl", "sta.log", "timing.rpt")
POWER_FILES = ("stimulus.hex", "tb.v", "sim_netlist.v", "sim.log", "activity.json", "power.tcl", "power.log",
               "instance_power.txt", "power.rpt", "power_propagated.rpt")


def _design(pe_type, **widths):
    return mac_design(AcceleratorConfig(pe_type=pe_type, clock_mhz=CLOCK_MHZ, **widths), ops=OPS)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    return tmp_path_factory.mktemp("runs")


@pytest.fixture(scope="module")
def points(runs):
    """Metrics of each PE type's MAC, computed on first use."""
    cache = {}

    def get(label):
        if label not in cache:
            cache[label] = characterize_point(_design(label), runs_root=runs, strict=True)
        return cache[label]

    return get


@pytest.mark.parametrize("label", ["lightpe1", "int16"])
def test_metrics_are_complete_and_consistent(points, label):
    metrics = points(label)
    assert metrics["status"] == "ok"
    area = metrics["synth__area__stdcell_um2"]
    assert 0 < metrics["synth__area__sequential_um2"] < area
    by_type = metrics["synth__cells__by_type"]
    assert sum(entry["count"] for entry in by_type.values()) == metrics["synth__cells__count"]
    assert sum(entry["area_um2"] for entry in by_type.values()) == pytest.approx(area)
    assert any(name.startswith("DFF") for name in by_type)

    period = metrics["sta__clock__period_ns"]
    assert period == pytest.approx(1000.0 / CLOCK_MHZ)
    slack = metrics["sta__timing__slack_ns"]
    assert metrics["sta__timing__critical_path_ns"] == pytest.approx(period - slack)
    assert metrics["sta__timing__fmax_mhz"] == pytest.approx(1000.0 / (period - slack))
    assert 0 < metrics["sta__timing__arrival_ns"] < metrics["sta__timing__critical_path_ns"]

    dynamic, leakage = metrics["power__total__dynamic_w"], metrics["power__total__leakage_w"]
    assert dynamic > 0 and leakage > 0
    assert metrics["power__total__total_w"] == pytest.approx(dynamic + leakage, rel=1e-5)
    assert dynamic == pytest.approx(metrics["power__sequential__dynamic_w"]
                                    + metrics["power__combinational__dynamic_w"], rel=1e-5)
    assert metrics["power__mac__energy_per_op_j"] == pytest.approx(dynamic * period * 1e-9)
    assert metrics["power__activity__results_checked"] == OPS  # the netlist matched the golden model
    assert 0 < metrics["power__activity__input_toggle_rate"] < 1
    assert 0 < metrics["power__activity__pin_toggle_rate"] < 2
    assert metrics["power__activity__unknown_fraction"] == 0
    assert metrics["power__propagated__dynamic_w"] > 0

    provenance = metrics["provenance"]
    for key in ("tools", "generator_sha256", "config_sha256", "verilog_sha256", "pdk", "flow_sha256", "date",
                "host"):
        assert provenance[key], key
    assert set(provenance["tools"]) == {"yosys", "sta", "iverilog", "vvp"}
    assert "nangate45_typ.lib.gz" in provenance["pdk"]


def test_run_folder_holds_every_stage_artefact(points):
    metrics = points("lightpe1")
    folder = metrics["run_dir"]
    assert os.path.basename(folder) == metrics["design_id"]
    assert os.path.basename(os.path.dirname(folder)) == "nangate45"
    assert sorted(name for name in os.listdir(folder) if os.path.isdir(os.path.join(folder, name))) == list(STAGES)
    for stage, names in (("1_synth", SYNTH_FILES), ("2_sta", STA_FILES), ("3_power", POWER_FILES)):
        for name in names:  # a log may be empty (OpenSTA prints nothing when all goes well)
            path = os.path.join(folder, stage, name)
            assert os.path.isfile(path) and (name.endswith(".log") or os.path.getsize(path) > 0), f"{stage}/{name}"
    for scratch in ("probes.hex", "sim.vvp"):
        assert not os.path.exists(os.path.join(folder, "3_power", scratch))
    with open(os.path.join(folder, "metrics.json")) as stream:
        stored = json.load(stream)
    assert stored.pop("sha256") == hashlib.sha256(canonical_json(stored).encode()).hexdigest()  # its own checksum
    assert stored == metrics
    with open(os.path.join(folder, "design.json")) as stream:
        assert json.load(stream)["design"]["params"]["pe_type"] == "lightpe1"


def test_lightpe1_is_smaller_and_cheaper_per_mac_than_int16(points):
    light, int16 = points("lightpe1"), points("int16")
    assert light["synth__area__stdcell_um2"] < int16["synth__area__stdcell_um2"]
    assert light["power__mac__energy_per_op_j"] < int16["power__mac__energy_per_op_j"]


@pytest.mark.skipif(not HAS_FP32, reason="the fp32 MAC (rtl_gen/mac_fp32.py) is not in this checkout")
def test_fp32_is_the_largest(points):
    assert points("int16")["synth__area__stdcell_um2"] < points("fp32")["synth__area__stdcell_um2"]
    assert points("int16")["power__mac__energy_per_op_j"] < points("fp32")["power__mac__energy_per_op_j"]
    assert points("fp32")["power__activity__results_checked"] == OPS


def test_a_done_point_is_read_back_not_recomputed(points, runs):
    first = points("lightpe1")
    netlist = os.path.join(first["run_dir"], "1_synth", "netlist.v")
    stamps = [os.stat(os.path.join(first["run_dir"], name)).st_mtime_ns for name in ("metrics.json",)]
    before = os.stat(netlist).st_mtime_ns
    again = characterize_point(_design("lightpe1"), runs_root=runs)
    assert again == first
    assert os.stat(netlist).st_mtime_ns == before
    assert [os.stat(os.path.join(first["run_dir"], "metrics.json")).st_mtime_ns] == stamps


def test_design_id_follows_what_changes_the_result():
    config = AcceleratorConfig(pe_type="lightpe1", clock_mhz=CLOCK_MHZ)
    same = mac_design(config, ops=OPS)
    assert same == mac_design(config, ops=OPS)
    assert mac_design(config.replace(clock_mhz=400.0), ops=OPS).params != same.params
    assert mac_design(config, ops=OPS, seed=1).stimulus.digest != same.stimulus.digest
    # Fields the MAC does not depend on (array shape) do not change what is characterized.
    assert mac_design(config.replace(rows=4), ops=OPS) == same


def test_a_broken_design_fails_with_its_log_and_is_retried_only_on_request(tmp_path, runs):
    source = tmp_path / "broken.v"
    source.write_text("module broken(input clk, output reg q);\n  always @(posedge clk) q <= ;\nendmodule\n")
    stimulus = _design("lightpe1").stimulus
    design = design_from_verilog(source, top="broken", params={"case": "syntax error"}, clock_mhz=CLOCK_MHZ,
                                 stimulus=stimulus)
    record = characterize_point(design, runs_root=runs)
    assert record["status"] == "failed" and record["stage"] == "1_synth"
    assert "syntax error" in record["reason"]
    assert "ERROR" in Path(record["log"]).read_text()
    folder = record["run_dir"]
    assert os.path.isfile(os.path.join(folder, "failed.json"))
    assert not os.path.exists(os.path.join(folder, "metrics.json"))

    log_stamp = os.stat(record["log"]).st_mtime_ns
    assert characterize_point(design, runs_root=runs) == record  # stored failure, not rerun
    assert os.stat(record["log"]).st_mtime_ns == log_stamp
    with pytest.raises(PointFailed, match="1_synth"):
        characterize_point(design, runs_root=runs, strict=True)

    retried = characterize_point(design, runs_root=runs, retry=True)
    assert retried["status"] == "failed" and retried["design_id"] == record["design_id"]
    assert os.stat(retried["log"]).st_mtime_ns != log_stamp


def test_a_netlist_that_disagrees_with_the_golden_model_fails(runs):
    design = _design("lightpe1")
    wrong = design.stimulus.expected[:5] + ((design.stimulus.expected[5] + 1) % (1 << 24),) \
        + design.stimulus.expected[6:]
    record = characterize_point(replace(design, stimulus=replace(design.stimulus, expected=wrong)), runs_root=runs)
    assert record["status"] == "failed" and record["stage"] == "3_power"
    assert "disagrees with the golden model at result 5" in record["reason"]
    # The stages before the failing one keep their figures.
    assert record["metrics"]["synth__area__total_um2"] > 0 and record["metrics"]["sta__timing__fmax_mhz"] > 0
    assert not any(name.startswith("power__") for name in record["metrics"])


def test_a_missing_tool_is_a_clear_error(runs):
    with pytest.raises(ToolError, match="no-such-yosys not found on PATH"):
        characterize_point(_design("lightpe1"), runs_root=runs, yosys="no-such-yosys")


def test_cli_prints_the_metrics(points, runs, capsys):
    metrics = points("lightpe1")
    main(["characterize-mac", "--pe", "lightpe1", "--clock-mhz", str(CLOCK_MHZ), "--ops", str(OPS),
          "--runs", str(runs)])
    out = capsys.readouterr().out
    assert metrics["run_dir"] in out and "fmax" in out and "energy per MAC" in out


def test_cli_rejects_a_bad_pe_type(capsys):
    with pytest.raises(SystemExit) as done:
        main(["characterize-mac", "--pe", "int17"])
    assert done.value.code == 2
    assert "pe_type" in capsys.readouterr().err


def test_count_toggles_counts_changes_between_samples_and_duty():
    # 6-bit words (2 hex digits), least significant bit first in the result.
    toggles, duty, unknown = count_toggles(["01", "02", "02", "23"], 6)
    assert toggles.tolist() == [2, 1, 0, 0, 0, 1]
    assert duty.tolist() == [0.5, 0.75, 0, 0, 0, 0.25]
    assert unknown == 0
    # An unknown digit hides its four bits: no toggle into or out of it, no say in the duty.
    toggles, duty, unknown = count_toggles(["0x", "01", "00"], 6)
    assert toggles.tolist() == [1, 0, 0, 0, 0, 0]
    assert duty.tolist() == [0.5, 0, 0, 0, 0, 0]
    assert unknown == pytest.approx(4 / 18)
    with pytest.raises(ValueError, match="2 digits"):
        count_toggles(["0g", "01"], 6)


def test_power_is_linear_in_activity_as_the_method_assumes(points):
    """OpenSTA at a uniform activity equals the per-instance interpolation the power stage relies on."""
    stage = os.path.join(points("lightpe1")["run_dir"], "3_power")
    with open(os.path.join(stage, "power.tcl")) as stream:
        preamble = [line for line in stream.read().splitlines() if line.startswith(("set_cmd_units", "read_", "link_"))]
    script = os.path.join(stage, "check_linear.tcl")
    with open(script, "w") as stream:
        stream.write("\n".join([*preamble, "set_power_activity -global -activity 0.3",
                                 "report_power -digits 6 > check_linear.rpt"]) + "\n")
    subprocess.run([*sta_tool().argv, "-no_init", "-no_splash", "-exit", "check_linear.tcl"], cwd=stage, check=True,
                   capture_output=True)
    with open(os.path.join(stage, "check_linear.rpt")) as stream:
        total = parse_power_report(stream.read(), Path(script))["total"]
    interpolated = {"internal": 0.0, "switching": 0.0}
    with open(os.path.join(stage, "instance_power.txt")) as stream:
        rows = [line.split() for line in stream]
    at = {(row[0], row[1]): [float(value) for value in row[3:5]] for row in rows}
    for (activity, instance), (internal, switching) in at.items():
        if activity == "0":
            high = at[("1", instance)]
            interpolated["internal"] += internal + 0.3 * (high[0] - internal)
            interpolated["switching"] += switching + 0.3 * (high[1] - switching)
    assert interpolated["internal"] == pytest.approx(total["internal"], rel=1e-5)
    assert interpolated["switching"] == pytest.approx(total["switching"], rel=1e-5)
