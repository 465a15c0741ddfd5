"""The characterization flow on a whole accelerator, with the real tools, and its handoff to OpenROAD-flow-scripts.

One small point (lightpe1, 2x2 PEs, macro GLB) goes through synthesis, timing
and a gate-level replay of a real layer's RTL trace; the figures are checked
against what can be known without the flow: the macro area from the
fakeram45 Liberty data, the MAC count from the layer's shape, the blocks adding
up to the total.
"""

import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

from quidam.characterize import activity
from quidam.characterize.accelerator import BLOCKS, LayerStimulus, accelerator_design
from quidam.characterize.activity import PROBE_WORDS_PER_WRITE, Stimulus, count_toggles
from quidam.characterize.cells import cell_library
from quidam.characterize.design import ports_of
from quidam.characterize.dataset import ACTIONS, action_energies
from quidam.characterize.fanout import max_fanout
from quidam.characterize.flow import characterize_point
from quidam.characterize.partition import simulate_partitioned
from quidam.characterize.power import block_of
from quidam.characterize.synth import FANOUT_SOURCES, HIERARCHICAL_NETLIST
from quidam.characterize.tools import ToolFailure, iverilog_tool, sta_tool, vvp_tool, yosys_tool
from quidam.cli import main
from quidam.config import AcceleratorConfig
from quidam.errors import PDKError
from quidam.inputs import load_json
from quidam.pdk.locate import PDK_DIR_ENV, resolve_pdk_dir
from quidam.pdk.platform import MAX_FANOUT
from quidam.pdk.sram import find_macros
from quidam.workloads.networks import parse_layer_ref

try:
    from quidam.pdk.locate import resolve_pdk_dir

    resolve_pdk_dir()
except PDKError as missing:
    pytest.skip(f"no Nangate45 data: {missing}", allow_module_level=True)

CONFIG = AcceleratorConfig(pe_type="lightpe1", rows=2, cols=2, ifmap_spad_depth=12, filter_spad_depth=32,
                           psum_spad_depth=16, glb_kib=16, glb_banks=4, glb_word_bits=64, clock_mhz=200.0)


@pytest.fixture(scope="module")
def point(tmp_path_factory):
    runs = tmp_path_factory.mktemp("runs")
    return characterize_point(accelerator_design(CONFIG), runs_root=runs, strict=True)


def test_the_netlist_replays_the_layer_and_the_figures_add_up(point):
    assert point["status"] == "ok"
    # Every module instance of the netlist gave its RTL module's outputs (see the partitioned test below).
    assert point["power__activity__results_checked"] > 0
    # Every MAC of the layer, counted by the RTL's monitors, from its shape.
    _, layer = parse_layer_ref("resnet20:19", "cifar10")
    layer = layer.scaled(1 / 32)
    assert point["workload__macs"] == layer.C * layer.M * layer.H * layer.W * layer.R * layer.S  # stride 1, same
    # The GLB is 4 banks of one 512x64 macro; their area is the Liberty's.
    macro = {m.name: m for m in find_macros()}["fakeram45_512x64"]
    assert point["synth__cells__macro_count"] == 4
    assert point["synth__area__macro_um2"] == pytest.approx(4 * macro.area_um2)
    blocks = [point[f"synth__area__block__{name}_um2"] for name, _ in BLOCKS]
    assert sum(blocks) == pytest.approx(point["synth__area__total_um2"], rel=1e-3)
    assert point["synth__area__block__glb_um2"] >= 4 * macro.area_um2
    assert min(point[f"synth__area__block__{name}_um2"] for name in ("mac", "ifmap_spad", "filter_spad",
                                                                      "psum_spad", "controller")) > 0
    power = [point[f"power__block__{name}__dynamic_w"] for name, _ in BLOCKS]
    assert sum(power) == pytest.approx(point["power__total__dynamic_w"], rel=1e-6)
    assert 0 < point["sta__timing__critical_path_ns"] and point["sta__timing__fmax_mhz"] > 50


def _dynamic_power(instance_power: Path, rates: dict[str, float]) -> dict[str, float]:
    """Each block's dynamic power (W) from OpenSTA's per-instance powers at activity 0 and 1 and the rates."""
    powers: dict[str, dict[int, list[float]]] = {}
    for line in instance_power.read_text().splitlines():
        fields = line.split()
        powers.setdefault(fields[1], {})[int(fields[0])] = [float(value) for value in fields[3:5]]
    by_block: dict[str, float] = {}
    for name, at in powers.items():
        block = block_of(name, "accelerator", BLOCKS)
        by_block[block] = by_block.get(block, 0.0) + sum(low + (high - low) * rates[name]
                                                         for low, high in zip(at[0], at[1]))
    return by_block


def test_the_partitioned_simulation_measures_the_flat_netlist_simulations_activity(point, tmp_path):
    """The flow simulates the accelerator one module instance at a time, driven by the RTL's port values; the
    whole flat netlist driven by the layer's inputs alone must give the same toggles (zero-delay: the same
    settled values), up to the unknown (x) values a gate-level register holds until it is first written, which
    the RTL initialises. Here on several batches of units (a few thousand cells each), as at scale."""
    run = Path(point["run_dir"])
    synth_dir = run / "1_synth"
    liberty = next((run.parent / "_liberty").rglob("*.lib"))
    library = cell_library(liberty)
    macros = [macro for macro in find_macros() if macro.name in point["synth__cells__by_type"]]
    stimulus = accelerator_design(CONFIG).stimulus.resolve(tmp_path)
    flat_dir, partitioned_dir = tmp_path / "flat", tmp_path / "partitioned"
    flat_dir.mkdir()
    flat = activity.simulate(yosys_tool(None), iverilog_tool(), vvp_tool(), stage_dir=flat_dir,
                             netlist=synth_dir / "netlist.v", liberty=liberty, library=library, macros=macros,
                             top="accelerator", clock_port="clk", stimulus=stimulus,
                             outputs=[(name, width) for name, (direction, width) in
                                      ports_of((synth_dir / "netlist.v").read_text()).items()
                                      if direction == "output"])
    partitioned = simulate_partitioned(
        yosys_tool(None), iverilog_tool(), vvp_tool(), stage_dir=partitioned_dir,
        hierarchical_netlist=synth_dir / HIERARCHICAL_NETLIST, fanout_sources=synth_dir / FANOUT_SOURCES,
        rtl=run / "0_rtl" / "accelerator.v", liberty=liberty, library=library, macros=macros, top="accelerator",
        clock_port="clk", stimulus=stimulus, max_cells=4000)
    batches = load_json(partitioned_dir / "partition" / "partition.json", "partition")["batches"]
    assert len(batches) > 1 and all(batch["cells"] <= 4000 or batch["units"] == 1 for batch in batches)
    assert partitioned["results_checked"] > 0
    assert partitioned["inputs"] == flat["inputs"]
    assert set(partitioned["instances"]) == set(flat["instances"])
    same = sum(partitioned["instances"][name] == rate for name, rate in flat["instances"].items())
    assert same >= 0.95 * len(flat["instances"])
    flat_power = _dynamic_power(run / "3_power" / "instance_power.txt", flat["instances"])
    partitioned_power = _dynamic_power(run / "3_power" / "instance_power.txt", partitioned["instances"])
    assert sum(partitioned_power.values()) == pytest.approx(sum(flat_power.values()), rel=0.005)
    for block, watts in flat_power.items():
        assert partitioned_power[block] == pytest.approx(watts, rel=0.02), block


def test_a_netlist_that_disagrees_with_its_rtl_fails_the_partitioned_simulation(point, tmp_path):
    run = Path(point["run_dir"])
    synth_dir = run / "1_synth"
    liberty = next((run.parent / "_liberty").rglob("*.lib"))
    # The controller's NAND gates turned into AND gates.
    text = (synth_dir / HIERARCHICAL_NETLIST).read_text()
    start = text.index("module \\accelerator.controller ")
    end = text.index("endmodule", start)
    broken = tmp_path / HIERARCHICAL_NETLIST
    broken.write_text(text[:start] + text[start:end].replace("  NAND2_X1 ", "  AND2_X1 ") + text[end:])
    with pytest.raises(ToolFailure, match="disagrees with the RTL"):
        simulate_partitioned(yosys_tool(None), iverilog_tool(), vvp_tool(), stage_dir=tmp_path / "power",
                             hierarchical_netlist=broken, fanout_sources=synth_dir / FANOUT_SOURCES,
                             rtl=run / "0_rtl" / "accelerator.v", liberty=liberty, library=cell_library(liberty),
                             macros=[macro for macro in find_macros() if macro.name in point["synth__cells__by_type"]],
                             top="accelerator", clock_port="clk",
                             stimulus=accelerator_design(CONFIG).stimulus.resolve(tmp_path))


def test_action_energies_are_block_energies_per_event(point):
    energies = action_energies(point)
    assert set(energies) == {column for column, _, _ in ACTIONS}
    seconds = point["power__activity__measured_cycles"] * 5e-9
    assert energies["energy__mac_op_j"] == pytest.approx(
        point["power__block__mac__dynamic_w"] * seconds / point["workload__macs"])
    assert all(value > 0 for value in energies.values())
    # A GLB access moves a 64-bit word through a macro: dearer than a 4-bit MAC.
    assert energies["energy__glb_access_j"] > energies["energy__mac_op_j"]


def test_no_net_of_the_timed_netlist_drives_more_pins_than_the_platform_allows(point):
    run = Path(point["run_dir"])
    libraries = [line.split()[1].strip("{}") for line in open(run / "2_sta" / "sta.tcl")  # Tcl-quoted paths
                 if line.startswith("read_liberty")]
    outputs = {name: cell.outputs for library in libraries for name, cell in cell_library(run / "2_sta" / library).items()}
    fanout = max_fanout((run / "1_synth" / "netlist.v").read_text(), outputs, "clk")
    assert fanout == point["synth__fanout__max_after"] <= MAX_FANOUT
    # Before the repair, GLB control nets drove the pins of several macros from one gate.
    assert point["synth__fanout__max_before"] > MAX_FANOUT
    assert point["synth__fanout__buffer_count"] > point["synth__fanout__nets_repaired"] > 0
    assert point["synth__cells__by_type"]["BUF_X4"]["count"] >= point["synth__fanout__buffer_count"]
    # The write mask took 2.9 of the 3.1 ns critical path; buffered, the path is the logic's.
    assert point["sta__timing__critical_path_ns"] < 2.5


def test_a_sample_of_ten_thousand_probe_words_is_written_in_statements_icarus_reads(tmp_path):
    """An 8 x 8 array has about 10,000 64-bit probe words; Icarus stops on one format string of 8,190 ``%h``."""
    words = 10_000
    stimulus = Stimulus(inputs=(("a", 1),), vectors=((0,), (1,), (1,), (0,), (1,)), measure_from=0,
                        measure_cycles=5, ops=1, op_name="op")
    (tmp_path / "top.v").write_text("module top(clk, a);\n  input clk, a;\n" + "".join(
        f"  wire [63:0] quidam_probes_{k} = {{a, 63'd{k}}};\n" for k in range(words)) + "endmodule\n")
    testbench = activity._testbench("top", "clk", [("", stimulus)], [], words)
    assert max(statement.count("%h") for statement in testbench.split(";")) <= PROBE_WORDS_PER_WRITE
    (tmp_path / "tb.v").write_text(testbench)
    (tmp_path / "stimulus.hex").write_text("".join(f"{a}\n" for (a,) in stimulus.vectors))
    (tmp_path / "samples.hex").write_text("".join(f"{flag:x}\n" for flag in stimulus.sample_flags()))
    base = activity._compiler_base(tmp_path / "ivl")
    for argv in ([*iverilog_tool().argv, f"-B{base}", "-g2012", "-o", "sim.vvp", "-s", "tb", "tb.v", "top.v"],
                 [*vvp_tool().argv, "-n", "sim.vvp"]):
        done = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0 and "error" not in (done.stdout + done.stderr).lower(), done.stdout + done.stderr
    expected = []
    for (a,), flag in zip(stimulus.vectors, stimulus.sample_flags()):
        line = "".join(f"{a << 63 | k:016x}" for k in reversed(range(words)))
        expected += [line] * ((flag & 1) + (flag >> 1))
    assert (tmp_path / "probes.hex").read_text().split() == expected


def test_orfs_handoff_constrains_the_characterized_netlist(point, tmp_path, capsys):
    config_file = tmp_path / "point.yaml"
    config_file.write_text("".join(f"{name}: {value}\n" for name, value in CONFIG.to_dict().items()))
    out = tmp_path / "orfs"
    main(["generate", "--config", str(config_file), "--flow", "orfs", "--out", str(out)])
    assert "OpenROAD-flow-scripts nangate45" in capsys.readouterr().out
    config_mk = (out / "config.mk").read_text()
    assert re.search(r"^export DESIGN_NAME = accelerator$", config_mk, re.M)
    assert re.search(r"^export PLATFORM = nangate45$", config_mk, re.M)
    assert "export VERILOG_FILES = $(dir $(DESIGN_CONFIG))accelerator.v" in config_mk
    assert "export SDC_FILE = $(dir $(DESIGN_CONFIG))constraint.sdc" in config_mk
    instantiated = set(re.findall(r"^\s*(fakeram45_\w+) ", (out / "accelerator.v").read_text(), re.M))
    assert instantiated == {"fakeram45_512x64"}
    assert "export ADDITIONAL_LEFS = $(PLATFORM_DIR)/lef/fakeram45_512x64.lef" in config_mk
    assert "export ADDITIONAL_LIBS = $(PLATFORM_DIR)/lib/fakeram45_512x64.lib" in config_mk
    # OpenSTA reads the constraints on the point's own netlist: the clock is the configured one.
    run = point["run_dir"]
    libraries = [line.split()[1] for line in open(f"{run}/2_sta/sta.tcl") if line.startswith("read_liberty")]
    script = tmp_path / "check.tcl"
    script.write_text("\n".join([*(f"read_liberty {lib}" for lib in libraries),
                                 f"read_verilog {run}/1_synth/netlist.v", "link_design accelerator",
                                 f"read_sdc {out / 'constraint.sdc'}",
                                 'puts "period [get_property [get_clocks core_clock] period]"',
                                 'puts "slack [worst_slack -max]"']) + "\n")
    result = subprocess.run([*sta_tool().argv, "-no_init", "-no_splash", "-exit", str(script)],
                            capture_output=True, text=True, timeout=300)
    assert "Error" not in result.stdout + result.stderr, result.stdout + result.stderr
    assert re.search(r"^period 5(\.0+)?$", result.stdout, re.M), result.stdout
    slack = float(re.search(r"^slack (\S+)$", result.stdout, re.M).group(1))
    # 20% of the period is spent on each I/O delay, so the worst slack cannot be better than the flow's.
    assert slack <= point["sta__timing__slack_ns"] + 1e-6


def test_a_workload_that_does_not_map_is_a_clear_failure(tmp_path):
    config = AcceleratorConfig(pe_type="int16", rows=2, cols=2, ifmap_spad_depth=6)
    with pytest.raises(ToolFailure, match="does not map: conv1: filter width S=7 needs an ifmap scratchpad"):
        LayerStimulus(config, layer="resnet34:0", dataset="imagenet", channels_scale=1 / 64, seed=1).resolve(tmp_path)


def test_the_layer_simulation_takes_its_macros_from_the_given_pdk_folder(tmp_path, monkeypatch):
    # The flow's --pdk-dir reaches the RTL simulation too: with the default lookup pointed at nothing, a layer
    # simulated on macro memories still builds and runs from the folder given.
    pdk_dir = resolve_pdk_dir()
    monkeypatch.setenv(PDK_DIR_ENV, str(tmp_path / "no-pdk-here"))
    config = AcceleratorConfig(pe_type="int16", rows=2, cols=2, glb_kib=16, glb_banks=4)
    stimulus = LayerStimulus(config, layer="resnet20:19", dataset="cifar10", channels_scale=1 / 32, seed=1,
                             pdk_dir=str(pdk_dir)).resolve(tmp_path)
    assert stimulus.ops == parse_layer_ref("resnet20:19")[1].scaled(1 / 32).macs


@pytest.mark.parametrize("stride", [1, 2, 5])
def test_strided_samples_count_every_toggle_of_the_sampled_cycles(stride):
    """Against a brute-force count: the toggles of a sampled cycle are those after the previous edge and at
    its own edge; nothing between sampled cycles counts."""
    rng = np.random.default_rng(stride)
    cycles, width = 40, 12
    stimulus = Stimulus(inputs=(("a", 1),), vectors=((0,),) * cycles, measure_from=3, measure_cycles=30, ops=1,
                        op_name="op", sample_stride=stride)
    pre, post = rng.integers(0, 1 << width, cycles), rng.integers(0, 1 << width, cycles)
    samples = []
    for cycle, flag in enumerate(stimulus.sample_flags()):
        samples += [pre[cycle]] if flag & 1 else []
        samples += [post[cycle]] if flag & 2 else []
    toggles, _, _ = count_toggles([f"{value:03x}" for value in samples], width, stimulus.counted_pairs(), block=4)
    expected = np.zeros(width, dtype=int)
    sampled = range(stimulus.measure_from + 1, stimulus.measure_from + stimulus.measure_cycles, stride)
    for cycle in sampled:
        for a, b in ((post[cycle - 1], pre[cycle]), (pre[cycle], post[cycle])):
            expected += [(a ^ b) >> bit & 1 for bit in range(width)]
    assert stimulus.sampled_cycles == len(sampled)
    assert toggles.tolist() == expected.tolist()
