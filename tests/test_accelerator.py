"""The whole accelerator on real layers: bit-exact against the golden convolution, cycle- and access-exact
against the analytical model (Icarus + cocotb; several minutes in all, spread over the xdist workers)."""

import json

import pytest

from quidam.config import load_config, parse_config
from quidam.mapping.mapper import map_layer
from quidam.rtl_gen.emit import write_accelerator
from quidam.testbenches.accelerator_runner import run_layer
from quidam.testbenches.runner import ACCELERATOR_WAIVERS, lint_verilog
from quidam.workloads.layer import ConvLayer
from quidam.workloads.networks import parse_layer_ref

pytestmark = pytest.mark.filterwarnings("ignore::amaranth.hdl.UnusedElaboratable")

EYERISS = "configs/eyeriss.yaml"


def _check(run, layer, label, record_property):
    record_property("checked", f"accelerator {label}: {run.golden.size} outputs bit-exact, "
                               f"{run.rtl_cycles} cycles = model")
    assert run.bit_exact, f"{run.mismatches} of {run.golden.size} outputs differ"
    assert run.rtl_cycles == run.model_cycles
    assert run.accesses["rtl"] == run.accesses["model"]
    assert run.macs == layer.macs
    assert 0 < run.utilization <= 1


@pytest.mark.parametrize("index", [1, 7, 9], ids=["3x3s1", "3x3s2", "1x1s2-shortcut"])
def test_eyeriss_int16_full_size_resnet20_layers(record_property, tmp_path, index):
    config = load_config(EYERISS)
    _, layer = parse_layer_ref(f"resnet20:{index}")
    run = run_layer(config, layer, tmp_path / "build")
    _check(run, layer, f"eyeriss int16 resnet20:{index}", record_property)


@pytest.mark.parametrize("fields", [
    {"pe_type": "fp32"}, {"pe_type": "lightpe1"}, {"pe_type": "lightpe2"},
    {"pe_type": "int", "act_bits": 8, "wt_bits": 8},
], ids=["fp32", "lightpe1", "lightpe2", "int8x8"])
def test_each_pe_type_on_a_real_layer(record_property, tmp_path, fields):
    # Eyeriss's scratchpads and GLB on a 6 x 7 array: the full-size layer simulates 3-4x faster.
    config = parse_config({**load_config(EYERISS).to_dict(), "act_bits": None, "wt_bits": None,
                           "psum_bits": None, "rows": 6, "cols": 7, **fields})
    _, layer = parse_layer_ref("resnet20:9")
    run = run_layer(config, layer, tmp_path / "build")
    _check(run, layer, f"6x7 {fields['pe_type']} {config.act_bits}x{config.wt_bits} resnet20:9", record_property)


def test_vgg16_imagenet_layer_with_reduced_channels(record_property, tmp_path):
    config = load_config(EYERISS)
    _, layer = parse_layer_ref("vgg16:10", "imagenet")
    layer = layer.scaled(1 / 32)
    run = run_layer(config, layer, tmp_path / "build")
    _check(run, layer, "eyeriss int16 vgg16-imagenet:10 /32", record_property)


@pytest.mark.parametrize("fields,ref,scale", [
    ({"rows": 4, "cols": 6, "ifmap_spad_depth": 9, "filter_spad_depth": 40, "psum_spad_depth": 5,
      "glb_kib": 16, "glb_banks": 4}, "resnet20:7", 0.25),
    ({"rows": 16, "cols": 8, "ifmap_spad_depth": 16, "filter_spad_depth": 64, "psum_spad_depth": 6,
      "glb_kib": 32, "glb_banks": 8, "glb_word_bits": 128, "dram_bytes_per_cycle": 4}, "resnet20:7", 0.25),
], ids=["4x6", "16x8"])
def test_other_array_shapes_fold_into_many_passes(record_property, tmp_path, fields, ref, scale):
    config = parse_config(fields)
    _, layer = parse_layer_ref(ref)
    layer = layer.scaled(scale)
    run = run_layer(config, layer, tmp_path / "build")
    _check(run, layer, f"{config.rows}x{config.cols} int16 {ref} x{scale}", record_property)
    assert run.schedule["passes"] > 1
    assert sum(run.schedule[k] > 1 for k in ("filter_blocks", "row_blocks", "channel_blocks")) >= 2


def test_filter_taller_than_the_array_folds_its_rows(record_property, tmp_path):
    config = parse_config({"pe_type": "lightpe2", "rows": 2, "cols": 4, "glb_kib": 8, "glb_banks": 2})
    layer = ConvLayer(name="tall", C=3, M=4, H=9, W=9, R=5, S=5, stride=2, padding=2)
    run = run_layer(config, layer, tmp_path / "build")
    _check(run, layer, "2x4 lightpe2 5x5 fold", record_property)
    assert run.schedule["folds"] == 3


def test_off_chip_backpressure_changes_only_the_cycles(record_property, tmp_path):
    # The memory refuses requests and beats in 30 % of the cycles: results and counts stay exact.
    config = parse_config({"rows": 3, "cols": 4, "glb_kib": 8, "glb_banks": 2, "dram_bytes_per_cycle": 4})
    _, layer = parse_layer_ref("resnet20:7")
    layer = layer.scaled(0.125)
    run = run_layer(config, layer, tmp_path / "build", stall=0.3)
    record_property("checked", f"accelerator 3x4 int16 resnet20:7 /8 with off-chip backpressure: "
                               f"{run.golden.size} outputs bit-exact, {run.rtl_cycles} cycles > model")
    assert run.bit_exact, f"{run.mismatches} of {run.golden.size} outputs differ"
    assert run.accesses["rtl"] == run.accesses["model"]
    assert run.rtl_cycles > run.model_cycles


@pytest.mark.parametrize("fields,modes", [
    ({"pe_type": "lightpe1", "glb_banks": 1, "ifmap_spad_depth": 3}, (0, 0, 0)),
    ({"pe_type": "lightpe1", "glb_banks": 4, "ifmap_spad_depth": 8}, (1, 1, 0)),
    ({"pe_type": "lightpe1", "glb_banks": 8, "ifmap_spad_depth": 8}, (1, 1, 1)),
], ids=["serial-reduction-no-lookahead", "wide-reduction-lookahead", "wide-lookahead-transfers-beside-the-array"])
def test_each_reduction_feed_and_transfer_mode(record_property, tmp_path, fields, modes):
    # Four lane banks leave the GLB no banks for two data regions; eight leave four.
    config = parse_config({"rows": 3, "cols": 5, "glb_kib": 8, "psum_spad_depth": 8, **fields})
    layer = ConvLayer(name="modes", C=6, M=10, H=12, W=12, R=3, S=3, stride=1, padding=1)
    run = run_layer(config, layer, tmp_path / "build")
    _check(run, layer, f"3x5 lightpe1 wide, lookahead, overlap = {modes}", record_property)
    assert (run.schedule["wide"], run.schedule["lookahead"], run.schedule["overlap"]) == modes


@pytest.mark.parametrize("fields,layer", [
    ({"rows": 3, "cols": 4, "glb_kib": 4, "glb_banks": 2},
     ConvLayer(name="tiles-s2", C=4, M=6, H=41, W=41, R=3, S=3, stride=2, padding=1)),
    ({"rows": 3, "cols": 4, "glb_kib": 4, "glb_banks": 2},
     ConvLayer(name="tiles-5x5", C=2, M=3, H=23, W=47, R=5, S=5, stride=1, padding=2)),
    ({"pe_type": "lightpe1", "rows": 3, "cols": 5, "glb_kib": 8, "glb_banks": 8, "psum_spad_depth": 8,
      "ifmap_spad_depth": 8}, ConvLayer(name="tiles-1x1s2", C=4, M=6, H=64, W=64, R=1, S=1, stride=2, padding=0)),
], ids=["int16-3x3s2", "int16-5x5", "lightpe1-1x1s2-overlap"])
def test_rows_wider_than_the_gbuffer_holds_run_in_width_tiles(record_property, tmp_path, fields, layer):
    config = parse_config(fields)
    run = run_layer(config, layer, tmp_path / "build")
    _check(run, layer, f"{config.rows}x{config.cols} {config.pe_type} {layer.name} in width tiles",
           record_property)
    assert run.schedule["width_tiles"] >= 2 and run.schedule["f"] < layer.F


@pytest.mark.parametrize("fields,layer,packing", [
    ({"rows": 6, "cols": 4, "glb_kib": 8, "glb_banks": 4},
     ConvLayer(name="groups", C=23, M=8, H=10, W=10, R=1, S=1, stride=1, padding=0), (4, 1, 2)),
    ({"pe_type": "lightpe1", "rows": 2, "cols": 5, "glb_kib": 8, "glb_banks": 4},
     ConvLayer(name="slots", C=11, M=6, H=9, W=9, R=1, S=1, stride=1, padding=0), (2, 4, 1)),
    ({"pe_type": "fp32", "rows": 6, "cols": 3, "glb_kib": 8, "glb_banks": 4},
     ConvLayer(name="fp32", C=7, M=4, H=8, W=8, R=3, S=3, stride=1, padding=1), (2, 1, 1)),
], ids=["int16-two-word-groups", "lightpe1-four-slots-per-word", "fp32-uneven-sets"])
def test_channel_packed_ifmap_words_feed_several_sets_per_beat(record_property, tmp_path, fields, layer, packing):
    # (set_lanes, slot_words, if_groups): sets per beat, slots of a set per word, word groups; the last set of
    # each layer has fewer channels than the others, so some beats carry no value for it.
    config = parse_config(fields)
    passes = map_layer(layer, config).passes
    assert {(ps.set_lanes, ps.slot_words, ps.if_groups) for ps in passes} == {packing}
    assert all(ps.channels < ps.sets * ps.q for ps in passes)
    run = run_layer(config, layer, tmp_path / "build")
    _check(run, layer, f"{config.rows}x{config.cols} {config.pe_type} {layer.name}: channel-packed ifmap",
           record_property)


def test_macro_memories_simulate_like_the_behavioural_ones(record_property, tmp_path):
    config = parse_config({"rows": 4, "cols": 3, "glb_kib": 8, "glb_banks": 2, "psum_spad_depth": 4,
                           "ifmap_spad_depth": 6, "filter_spad_depth": 160})
    layer = ConvLayer(name="small", C=5, M=7, H=9, W=7, R=3, S=3, stride=2, padding=1)
    behavioural = run_layer(config, layer, tmp_path / "behavioural")
    macro = run_layer(config, layer, tmp_path / "macro", memory="macro")
    _check(macro, layer, "4x3 int16 fakeram45 GLB and filter scratchpads", record_property)
    assert (macro.ofmap == behavioural.ofmap).all()
    assert macro.rtl_cycles == behavioural.rtl_cycles
    sidecar = json.loads((tmp_path / "macro" / "config.json").read_text())
    assert sidecar["macros"] == {"fakeram45_512x64": 2, "fakeram45_256x16": 12}


@pytest.mark.parametrize("fields", [
    None,
    {"pe_type": "fp32", "rows": 3, "cols": 2, "ifmap_spad_depth": 7, "filter_spad_depth": 100,
     "psum_spad_depth": 9, "glb_kib": 3, "glb_banks": 3, "glb_word_bits": 32},
    {"pe_type": "lightpe1", "rows": 32, "cols": 2, "ifmap_spad_depth": 256, "filter_spad_depth": 1024,
     "psum_spad_depth": 256, "glb_kib": 64, "glb_banks": 64, "glb_word_bits": 32},
    {"pe_type": "int", "act_bits": 5, "wt_bits": 3, "rows": 2, "cols": 32, "ifmap_spad_depth": 2,
     "filter_spad_depth": 2, "psum_spad_depth": 2, "glb_kib": 1, "glb_banks": 1, "glb_word_bits": 128},
], ids=["eyeriss", "fp32-3x2", "lightpe1-32x2", "int5x3-2x32"])
def test_generated_accelerator_passes_verilator_lint(tmp_path, fields):
    config = load_config(EYERISS) if fields is None else parse_config(fields)
    write_accelerator(config, tmp_path)
    done = lint_verilog(tmp_path / "accelerator.v", ACCELERATOR_WAIVERS)
    assert done.returncode == 0, done.stderr[-3000:]


def _random_valid_config(rng):
    """A configuration drawn uniformly from each field's documented range (redrawn until it is consistent)."""
    from quidam.config import FIELDS
    from quidam.errors import ConfigError
    while True:
        fields = {}
        for rule in FIELDS:
            if rule.choices:
                fields[rule.name] = rule.choices[rng.integers(len(rule.choices))]
            elif rule.kind is int and rule.name not in ("act_bits", "wt_bits", "psum_bits", "glb_kib"):
                fields[rule.name] = int(rng.integers(rule.low, rule.high + 1))
        fields["glb_kib"] = int(rng.integers(1, 65))
        if fields["pe_type"] == "int":
            fields["act_bits"], fields["wt_bits"] = (int(v) for v in rng.integers(2, 17, size=2))
        if fields["rows"] * fields["cols"] > 64:     # keep each lint run short
            continue
        try:
            return parse_config(fields)
        except ConfigError:
            continue


@pytest.mark.parametrize("seed", [11, 12, 13])
def test_random_valid_configurations_generate_and_lint(tmp_path, seed):
    import numpy as np
    config = _random_valid_config(np.random.default_rng(seed))
    write_accelerator(config, tmp_path)
    done = lint_verilog(tmp_path / "accelerator.v", ACCELERATOR_WAIVERS)
    assert done.returncode == 0, f"{config.to_dict()}\n{done.stderr[-3000:]}"


def test_verilator_and_icarus_give_the_same_run(record_property, tmp_path):
    config = parse_config({"rows": 3, "cols": 4, "glb_kib": 8, "glb_banks": 2})
    _, layer = parse_layer_ref("resnet20:9")
    layer = layer.scaled(0.125)
    icarus = run_layer(config, layer, tmp_path / "icarus")
    verilator = run_layer(config, layer, tmp_path / "verilator", simulator="verilator")
    _check(verilator, layer, "3x4 int16 resnet20:9 /8 on Verilator", record_property)
    assert (verilator.ofmap == icarus.ofmap).all()
    assert verilator.rtl_cycles == icarus.rtl_cycles and verilator.accesses == icarus.accesses
