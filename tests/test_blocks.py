"""Block-level characterization (characterize/blocks.py) and the composed accelerator model (models/composed.py)."""

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from quidam.characterize.block_dataset import block_dataset_path, block_row, write_block_dataset
from quidam.characterize.block_replay import Recording
from quidam.characterize.blocks import KINDS, SCALE_KINDS, WORKLOAD, BlockPoint, characterize_block, plan
from quidam.characterize.points import load_sweep
from quidam.cli import cli
from quidam.config import parse_config
from quidam.dse.points import timing_of
from quidam.dse.space import load_space
from quidam.mapping.model import mac_operations
from quidam.models.block_models import FEATURES, RANGE_CHECKED, TARGETS, BlockModel, block_config
from quidam.models.composed import PE_BLOCKS, ComposedModel, compare_dataset, compare_with_whole, limit_of
from quidam.models.fit import load_dataset

_BASE = {"pe_type": "lightpe1", "rows": 2, "cols": 2, "ifmap_spad_depth": 12, "filter_spad_depth": 64,
         "psum_spad_depth": 16, "glb_kib": 16, "glb_banks": 4, "glb_word_bits": 64}



def test_the_array_size_is_an_exact_count_of_the_committed_blocks():
    model = ComposedModel()
    small, large = (model.compose(parse_config({**_BASE, "rows": n, "cols": n})) for n in (2, 4))
    assert not small.warnings
    for block in PE_BLOCKS:
        assert large.area_um2[block] == pytest.approx(4 * small.area_um2[block], rel=1e-12)
        assert large.leakage_w[block] == pytest.approx(4 * small.leakage_w[block], rel=1e-12)
    assert large.area_um2["controller"] > 0 and large.energies["glb"]["read"] > 0


def test_every_committed_seed_type_has_every_depth_combination():
    model = ComposedModel()
    for pe_type in ("fp32", "int16", "lightpe1", "lightpe2"):
        rows = [row for row in model.tables["pe"] if row["pe_type"] == pe_type]
        assert len({(r["ifmap_spad_depth"], r["filter_spad_depth"], r["psum_spad_depth"]) for r in rows}) == 27
        for row in rows:  # each measured energy is positive, the blocks inside a PE add up to it
            assert all(value > 0 for key, value in row.items() if key.startswith("energy__"))
            inner = sum(row[f"synth__area__block__{block}_um2"] for block in PE_BLOCKS)
            assert inner == pytest.approx(row["synth__area__total_um2"], rel=1e-3)


def test_the_plan_records_the_size_dependent_blocks_where_the_scale_points_are():
    points = plan([{"pe_type": "int16"}])
    controllers = {point.config.psum_spad_depth for point in points
                   if point.kind == "controller" and point.config.rows == 2}
    assert controllers == {16, 24, 32}   # the drain FIFO holds a wide column's tokens
    for config in load_sweep("scale", "int16"):
        for kind in SCALE_KINDS:
            assert any(point.kind == kind and point.key == BlockPoint(kind, config).key for point in points), \
                (kind, config)
    assert len({(point.kind, point.key) for point in points}) == len(points)


def test_the_plan_of_some_kinds_is_the_full_plans_points_of_those_kinds(tmp_path):
    full = plan([{"pe_type": "int16"}])
    some = plan([{"pe_type": "int16"}], kinds=("pe", "controller"))
    assert some == [point for point in full if point.kind in ("pe", "controller")]
    assert {point.kind for point in some} == {"pe", "controller"} and len(some) == 27 + 11
    result = CliRunner().invoke(cli, ["characterize-blocks", "--kind", "pes", "--runs", str(tmp_path)])
    assert result.exit_code == 2 and "'pes' is not one of 'pe', 'mac'" in result.output


@pytest.mark.parametrize("widths, psum_bits", [((4, 4), 16), ((8, 8), 24), ((4, 8), 20)])
def test_the_planned_blocks_of_a_free_width_type_are_at_its_own_widths(widths, psum_bits):
    # The scale sweep's configurations are int:8x8's: their widths must give way to the PE's, psum included.
    points = plan([{"pe_type": "int", "act_bits": widths[0], "wt_bits": widths[1]}])
    assert {(point.config.act_bits, point.config.wt_bits, point.config.psum_bits) for point in points} == \
        {(*widths, psum_bits)}
    assert any(point.kind == "glb" and point.config.rows * point.config.cols == 64 for point in points)


#: What the GLB and controller models must hold on rows they were not fitted on (relative error). The
#: controller's drain FIFO does not grow linearly with its bits at the 2 x 2 scratchpad corners (LightPE-1's
#: 16-, 24- and 32-entry FIFOs of one word: 22,409, 25,094 and 28,702 um^2), which sets its limit; a
#: controller is 2 to 5 % of an accelerator's area.
_BLOCK_MODEL_LIMITS = {
    "glb": {"synth__area__total_um2": 0.01, "power__total__leakage_w": 0.01, "energy__idle_j": 0.01},
    "controller": {"synth__area__total_um2": 0.07, "power__total__leakage_w": 0.07, "energy__idle_j": 0.07},
}


def test_the_glb_and_controller_models_hold_out_each_committed_row():
    model = ComposedModel()
    for kind, limits in _BLOCK_MODEL_LIMITS.items():
        errors = model.block_models[kind].loo_errors_
        assert {"fp32", "int16", "lightpe1", "lightpe2"} <= set(errors)   # and int at each characterized width
        for pe_type, by_target in errors.items():
            for target, limit in limits.items():
                assert by_target[target].size >= 3 and np.abs(by_target[target]).max() <= limit, \
                    (kind, pe_type, target, by_target[target])


#: Fitted on 2 x 2 and 4 x 4 arrays, at 8 x 8 to 16 x 16 (a controller is 2 to 5 % of such an accelerator's area).
_EXTRAPOLATION_LIMITS = {
    "glb": _BLOCK_MODEL_LIMITS["glb"],
    "controller": {"synth__area__total_um2": 0.10, "power__total__leakage_w": 0.16, "energy__idle_j": 0.07},
}


def test_the_glb_and_controller_models_fitted_up_to_4x4_predict_the_larger_arrays():
    """Fitted on the 2 x 2 and 4 x 4 rows only, the models give the 8 x 8 to 16 x 16 rows: the array enters
    through the block's structure (macros, lanes, FIFO bits), not a fitted slope in the array size."""
    checked = 0
    for kind in _EXTRAPOLATION_LIMITS:
        rows = ComposedModel().tables[kind]
        for pe_type in ("int16", "lightpe1"):
            small = [row for row in rows if row["pe_type"] == pe_type and row["cols"] <= 4]
            large = [row for row in rows if row["pe_type"] == pe_type and row["cols"] > 4]
            predicted = BlockModel(kind).fit(small).predict([block_config(kind, row) for row in large])
            for target, limit in _EXTRAPOLATION_LIMITS[kind].items():
                errors = predicted[target] / np.array([row[target] for row in large]) - 1
                assert np.abs(errors).max() <= limit, (kind, pe_type, target, errors)
            checked += len(large)
    assert checked >= 8


def test_a_glb_or_controller_between_the_characterized_ones_is_modelled_and_warned_only_outside_them():
    model = ComposedModel()
    between = model.compose(parse_config({**_BASE, "rows": 8, "cols": 14, "glb_kib": 32, "glb_banks": 8}))
    assert not between.warnings   # one macro a bank, 8 lanes and its FIFO within the characterized ones
    for kind in TARGETS:   # not a characterized row: the model's figures
        assert between.area_um2[kind] not in {row["synth__area__total_um2"] for row in model.tables[kind]}
    deep = model.compose(parse_config({**_BASE, "rows": 8, "cols": 14, "glb_kib": 512, "glb_banks": 8}))
    assert deep.warnings == ["glb block: macros_per_bank 16 (characterized: 1..8) -> its fitted model extrapolates"]
    assert deep.area_um2["glb"] > 15 * between.area_um2["glb"]   # sixteen macros a bank


def test_the_planned_glbs_and_controllers_span_the_exploration_space():
    """Once characterized, the plan's GLBs and controllers leave no point of the default space outside their
    models' range (the block features of :data:`~quidam.models.block_models.FEATURES` they are checked on)."""
    space = load_space()
    for pe_type in ("fp32", "int16", "lightpe1", "lightpe2"):
        planned = plan([{"pe_type": pe_type}])
        for kind in TARGETS:
            features = {name: of for name, (_, of) in FEATURES[kind].items() if name in RANGE_CHECKED[kind]}
            keys = {BlockPoint(kind, config).key: config for config in space.configs[pe_type]}
            for name, of in features.items():
                covered = [of(point.config) for point in planned if point.kind == kind]
                wanted = {of(config) for config in keys.values()}
                assert min(covered) <= min(wanted) and max(wanted) <= max(covered), (pe_type, kind, name)


def test_the_paths_between_blocks_are_the_default_sweeps_mean_critical_path(tmp_path):
    """The composed critical path is the longest of the blocks' own paths and the mean critical path of the PE
    type's whole accelerators in the default sweep; without those, the blocks' alone, with a warning."""
    data = Path(__file__).resolve().parents[1] / "data" / "characterization"
    for pe_type in ("int16", "lightpe1"):
        whole = load_dataset(data / f"{pe_type}.csv").targets["sta__timing__critical_path_ns"]
        config = parse_config({**_BASE, "pe_type": pe_type, "rows": 12, "cols": 14, "glb_kib": 108,
                               "glb_banks": 27})
        composition = ComposedModel().compose(config)
        blocks = max(ComposedModel().row(kind, config, [])["sta__timing__critical_path_ns"]
                     for kind in ("pe", "glb", "controller"))
        assert composition.critical_path_ns == pytest.approx(max(blocks, float(np.mean(whole))), rel=1e-12)
        assert not composition.warnings
        alone = ComposedModel(whole_dir=tmp_path).compose(config)
        assert alone.critical_path_ns == pytest.approx(blocks, rel=1e-12) and alone.critical_block != "boundary"
        assert alone.warnings == [f"no whole accelerator of {pe_type} in {tmp_path}: the critical path leaves "
                                  "out the paths between blocks"]


def test_a_pe_of_uncharacterized_widths_is_refused_not_stood_in_for():
    """An int PE of widths without block rows has no nearest stand-in: other widths see other data."""
    from quidam.errors import QuidamError

    with pytest.raises(QuidamError, match=r"no pe block of int:4x6 in .*: run `quidam characterize-blocks "
                                          r"--pe int:4x6`"):
        ComposedModel().compose(parse_config({**_BASE, "pe_type": "int", "act_bits": 4, "wt_bits": 6}))


def test_a_depth_outside_the_characterized_ones_is_warned_by_name():
    composition = ComposedModel().compose(parse_config({**_BASE, "ifmap_spad_depth": 20}))
    assert any(w.startswith("pe block: ifmap_spad_depth 20 (characterized: 12, 16, 24)") for w in composition.warnings)


def test_bad_pe_argument_is_one_line_and_exit_2(tmp_path):
    result = CliRunner().invoke(cli, ["characterize-blocks", "--pe", "int16:4x4", "--runs", str(tmp_path)])
    assert result.exit_code == 2
    assert "widths are given only for int" in result.output


def _characterize(config_fields, runs: Path, data: Path, kinds=tuple(KINDS)) -> dict:
    results = {}
    for point in plan([config_fields], dense=False):
        if point.config == parse_config({**_BASE, **config_fields}) and point.kind in kinds:
            metrics, computed = characterize_block(point, runs_root=runs)
            assert metrics["status"] == "ok", metrics.get("reason")
            results[point.kind] = (point, metrics, computed)
    for kind, (point, metrics, _) in results.items():
        write_block_dataset([block_row(point, metrics)], block_dataset_path(data, kind))
    return results


def test_a_scratchpad_replay_is_checked_against_the_rtl_and_cached(tmp_path):
    results = _characterize({"pe_type": "lightpe1"}, tmp_path / "runs", tmp_path / "data", kinds=("ifmap_spad",))
    point, metrics, computed = results["ifmap_spad"]
    assert computed and metrics["power__activity__results_checked"] == metrics["workload__read"] > 0
    assert metrics["variant__write__workload__read"] == 0 < metrics["workload__write"]
    again, computed = characterize_block(point, runs_root=tmp_path / "runs")
    assert not computed and again["design_id"] == metrics["design_id"]


def test_the_idle_replay_in_the_full_ones_simulation_measures_what_it_measures_alone(tmp_path):
    """A flat block's idle replay runs in the full replay's Icarus run (one compile and load); simulated alone
    on the same netlist it toggles the same nets as often. The controller's idle logic toggles (its drain
    FIFO's memory has no reset: in the full replay's run it holds known values)."""
    from quidam.characterize import activity
    from quidam.characterize.blocks import block_design
    from quidam.characterize.cells import cell_library
    from quidam.characterize.design import ports_of
    from quidam.characterize.tools import iverilog_tool, vvp_tool, yosys_tool

    results = _characterize({"pe_type": "lightpe1"}, tmp_path / "runs", tmp_path / "data", kinds=("controller",))
    point, metrics, _ = results["controller"]
    run = Path(metrics["run_dir"])
    merged = json.loads((run / "3_power" / "idle" / "activity.json").read_text())
    assert not (run / "3_power" / "idle" / "tb.v").exists()   # simulated in the full replay's run
    design = block_design(point, tmp_path / "runs" / "nangate45")
    assert design.macros == ()
    alone = tmp_path / "alone"
    alone.mkdir()
    stimulus = dict(design.variants)["idle"].resolve(run / "3_power" / "idle")
    assert stimulus.holds_inputs and not design.stimulus.resolve(run / "3_power").holds_inputs
    netlist = run / "1_synth" / "netlist.v"
    liberty = next((tmp_path / "runs" / "nangate45" / "_liberty").glob("*/*.lib"))
    outputs = [(name, width) for name, (direction, width) in ports_of(netlist.read_text()).items()
               if direction == "output"]
    found = activity.simulate(yosys_tool(None), iverilog_tool(), vvp_tool(), stage_dir=alone, netlist=netlist,
                              liberty=liberty, library=cell_library(liberty), macros=[], top=design.top,
                              clock_port=design.clock_port, stimulus=stimulus, outputs=outputs)
    assert found["instances"] == merged["instances"] and found["inputs"] == merged["inputs"]
    assert found["pin_toggle_rate"] > 0 and found["unknown_fraction"] > merged["unknown_fraction"]


def test_composed_2x2_matches_the_whole_accelerator(tmp_path):
    from quidam.characterize.accelerator import accelerator_design
    from quidam.characterize.flow import characterize_point

    _characterize({"pe_type": "lightpe1"}, tmp_path / "runs", tmp_path / "data")
    # Every kind needs a table: the point's own rows are the only ones.
    composition = ComposedModel(tmp_path / "data").compose(parse_config(_BASE))
    assert not composition.warnings
    whole = characterize_point(accelerator_design(parse_config(_BASE)), runs_root=tmp_path / "runs", strict=True)
    errors = compare_with_whole(composition, whole)
    # fmax is left out: the paths between blocks come from the committed whole accelerators (README).
    for target, (_, _, error) in errors.items():
        if target != "fmax":
            assert abs(error) <= limit_of(target), \
                (target, errors[target])


#: Issue 16's limits the composed model does not meet yet on the scale points, reported in the README: fmax
#: (-3.5 to +7.4 %: the paths between blocks are the mean of the default sweep's whole accelerators, whose own
#: critical paths spread by 7 % around it) and the PE sequencer's energy (-9.9 to -15.0 %: most of it follows the
#: broadcast buses' traffic, which the 2 x 2 recording's PE sees at another rate than a larger array's).
_KNOWN_MISSES_AT_SCALE = ("fmax", "energy__pe_control")


@pytest.mark.parametrize("pe_type", ["fp32", "int16", "lightpe1", "lightpe2"])
def test_the_composed_model_holds_on_the_committed_whole_accelerators_at_scale(pe_type):
    # data/characterization/<pe>-scale.csv: whole accelerators of 4 x 4 PEs and more on the RTL of the block
    # tables, never fitted; issue 16's limits (models.composed.LIMITS) but the known misses.
    data = Path(__file__).resolve().parents[1] / "data" / "characterization"
    dataset = load_dataset(data / f"{pe_type}-scale.csv")
    compared = compare_dataset(ComposedModel(), dataset.configs, dataset.targets)
    assert len(compared) >= 1 and min(config.rows * config.cols for config in dataset.configs) >= 16
    for config, (figures, warnings) in zip(dataset.configs, compared):
        assert not warnings, (config, warnings)
        assert {"area", "leakage", "dynamic_energy", "energy", "energy__mac", "energy__glb"} <= set(figures)
        for target, (_, _, error) in figures.items():
            if target not in _KNOWN_MISSES_AT_SCALE:
                assert abs(error) <= limit_of(target), \
                    (f"{config.rows}x{config.cols}", target, figures[target])


@pytest.mark.parametrize("pe_type", ["fp32", "lightpe1"])
def test_the_mac_operations_are_every_mac_units_enables_in_the_rtl(pe_type, tmp_path):
    # mapping.model.mac_operations against the RTL: every MAC unit's in_valid cycles of a recorded layer. FP32
    # adds each reduction token's psum in the MAC of every PE row of its column; LightPE-1 in a psum adder.
    # Three rows and two columns: the additions follow the rows.
    config = parse_config({"pe_type": pe_type, "rows": 3, "cols": 2, "glb_kib": 16, "glb_banks": 4})
    macs = tuple((f"mac_{r}_{c}", f"array.pe_{r}_{c}.mac", "", "") for r in range(3) for c in range(2))
    recording = Recording(config=config, workload=WORKLOAD, blocks=macs)
    trace = recording.trace(tmp_path / "nangate45")
    start = int(trace["measure_from"])
    enables = sum(int(np.count_nonzero(trace[f"{name}:in_valid"][start:])) for name, *_ in macs)
    rtl = json.loads((recording.folder(tmp_path / "nangate45") / "rtl_sim.json").read_text())["accesses"]["rtl"]
    found = mac_operations(macs=rtl["macs"], psum_out=rtl["array.psum_out"], rows=config.rows,
                           reduce_beside=timing_of(config)["reduce_beside"])
    assert enables == found
    assert (enables > rtl["macs"]) == (pe_type == "fp32")
