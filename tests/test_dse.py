"""The exploration: the vectorized model against the mapper and the exact model, Pareto sets, the command."""

from __future__ import annotations

import json
import random
import re

import numpy as np
import pytest

from quidam.cli import main
from quidam.config import SEED_PE_TYPES, AcceleratorConfig, ConfigError
from quidam.dse.explore import explore, pareto_front
from quidam.mapping import search
from quidam.mapping.search import layer_performance
from quidam.dse.points import point_table, timing_of
from quidam.dse.space import load_space
from quidam.mapping.mapper import MappingError, map_layer, plan_layer
from quidam.mapping.model import evaluate
from quidam.models.composed import ComposedModel
from quidam.workloads.layer import ConvLayer
from quidam.workloads.networks import get_network


def _random_configs(seed: int, count: int) -> list[AcceleratorConfig]:
    rng = random.Random(seed)
    configs = []
    while len(configs) < count:
        try:
            configs.append(AcceleratorConfig(
                pe_type=rng.choice(SEED_PE_TYPES), rows=rng.choice([2, 3, 4, 6, 8, 12]), cols=rng.choice([2, 3, 4, 7, 14]),
                ifmap_spad_depth=rng.choice([3, 6, 12, 24]), filter_spad_depth=rng.choice([9, 16, 32, 64, 224]),
                psum_spad_depth=rng.choice([2, 4, 16, 24]), glb_kib=rng.choice([2, 4, 8, 16, 64]),
                glb_banks=rng.choice([1, 2, 4]), dram_bytes_per_cycle=rng.choice([1, 2, 4, 8, 16])))
        except ConfigError:
            pass
    return configs


def _layers() -> list[ConvLayer]:
    resnet = get_network("resnet20", "cifar10").layers
    vgg = get_network("vgg16", "cifar10").layers
    layers = [layer.scaled(0.25) if layer.C >= 32 else layer for layer in resnet[:8]]
    layers += [vgg[0], vgg[2].scaled(1 / 16), vgg[-1].scaled(1 / 16)]
    # Odd shapes: stride above the filter, padding larger than the stride, a single output row.
    layers += [ConvLayer("s3", C=5, M=7, H=11, W=9, R=1, S=1, stride=3, padding=0),
               ConvLayer("p3", C=3, M=5, H=9, W=9, R=7, S=7, stride=2, padding=3),
               ConvLayer("row", C=4, M=3, H=3, W=12, R=3, S=3, stride=1, padding=0)]
    return layers


@pytest.mark.parametrize("seed", [0, 1])
def test_vectorized_model_is_the_mapper_and_the_exact_model(seed):
    configs = _random_configs(seed, 24)
    points = point_table(configs)
    for layer in _layers():
        performance = layer_performance(layer, points)
        for index, config in enumerate(configs):
            try:
                choice, cycles = plan_layer(layer, config, timing=timing_of(config))
            except MappingError:
                assert performance.failure[index] != 0, (layer, config)
                continue
            assert performance.failure[index] == 0, (layer, config)
            got = (performance.p[index], performance.q[index], performance.e[index], performance.wide[index],
                   performance.cycles[index])
            assert got == (choice["p"], choice["q"], choice["e"], choice["wide"], cycles), (layer, config)
            exact = evaluate(map_layer(layer, config, timing=timing_of(config)))
            assert exact.cycles == cycles
            assert {key: int(values[index]) for key, values in performance.accesses.items()} == exact.accesses
            assert exact.accesses["macs"] == layer.macs


@pytest.mark.parametrize("seed", [0, 1])
def test_the_pruned_search_finds_what_costing_every_candidate_finds(seed):
    """The search costs only the candidates whose lower bound could still win: on random points, every
    candidate's bound is at most its cycles, and the winners are those of costing every candidate (the
    fewest cycles, then the search's order)."""
    points = {name: np.asarray(values) for name, values in point_table(_random_configs(seed + 10, 150)).items()}
    for layer in _layers():
        cand = search._candidates(layer, points, search._capacity(layer, points)[1])
        mappings = search._DistinctMappings(layer, points, cand["point"], *(cand[name] for name in
                                                                           ("p", "q", "e", "f", "wide", "overlap")))
        every = np.arange(mappings.first.size)
        cycles = mappings.costs(every)[0][mappings.inverse]
        bound = mappings.costs(every, bound=True)[0][mappings.inverse]
        assert (bound <= cycles).all(), layer
        assert (bound == cycles)[~cand["overlap"]].all(), layer   # without overlap, the cost itself
        assert (bound > 0.5 * cycles).mean() > 0.5, layer   # a bound that prunes
        order = np.lexsort((cand["rank"], cycles, cand["point"]))
        winners = order[np.r_[True, np.diff(cand["point"][order]) != 0]]
        performance = layer_performance(layer, points)
        at = cand["point"][winners]
        assert np.array_equal(np.flatnonzero(performance.mapped), at), layer
        for name in ("p", "q", "e", "f", "wide", "overlap"):
            assert np.array_equal(getattr(performance, name)[at], cand[name][winners]), (layer, name)
        assert np.array_equal(performance.cycles[at], cycles[winners]), layer


def test_timing_of_is_the_accelerators_timing():
    from quidam.mapping.mapper import accelerator_timing
    for config in _random_configs(2, 6):
        assert timing_of(config) == accelerator_timing(config)


def test_failures_name_the_capacity():
    configs = [AcceleratorConfig(pe_type="int16", rows=2, cols=2, ifmap_spad_depth=2, glb_kib=16, glb_banks=4),
               AcceleratorConfig(pe_type="int16", rows=16, cols=2, glb_kib=1, glb_banks=1),
               AcceleratorConfig(pe_type="int16", rows=2, cols=2, glb_kib=16, glb_banks=4)]
    # The smallest pass on 16 rows: 11 filter rows of one channel and 11 ifmap rows of an 11-column window,
    # 155 words; 1 KiB holds 128.
    layer = ConvLayer("big", C=64, M=64, H=56, W=56, R=11, S=11, stride=1, padding=5)
    performance = layer_performance(layer, point_table(configs))
    assert list(performance.failure) == [2, 4, 0]
    assert performance.cycles[0] == 0 and performance.cycles[2] > 0


def test_pareto_front_is_the_brute_force_one():
    rng = np.random.default_rng(0)
    perf, energy = rng.random(300), rng.random(300)
    perf[:20] = perf[20:40]  # ties
    valid = rng.random(300) > 0.2
    front = pareto_front(perf, energy, valid)
    for i in range(300):
        dominated = any(valid[j] and perf[j] >= perf[i] and energy[j] <= energy[i]
                        and (perf[j] > perf[i] or energy[j] < energy[i]) for j in range(300))
        assert front[i] == (valid[i] and not dominated)


def test_space_validation(tmp_path):
    assert load_space().size == 4 * 5184
    bad = tmp_path / "bad.yaml"
    for text, message in (("grid: {rows: [1]}", "rows"), ("grid: {nope: [1]}", "unknown field 'nope'"),
                          ("pe_types: [int8]", "unknown PE type 'int8'"), ("colour: red", "unknown key 'colour'"),
                          ("grid: {rows: 4}", "non-empty list"),
                          ("pe_types: [lightpe1:4x4]", "widths are given only for int"),
                          ("pe_types: ['int:4']", "as int:ACTxWT")):
        bad.write_text(text)
        with pytest.raises(ConfigError, match=message):
            load_space(bad)


def test_an_int_format_of_a_space_takes_its_widths_and_is_left_out_without_blocks(tmp_path):
    space = tmp_path / "space.yaml"
    space.write_text("pe_types: [lightpe1, 'int:2x6']\nbase: {act_bits: 8}\ngrid: {rows: [4], cols: [4, 8]}\n")
    configs = load_space(space).configs
    assert [(c.pe_type, c.act_bits, c.wt_bits, c.cols) for c in configs["int:2x6"]] == [("int", 2, 6, 4),
                                                                                       ("int", 2, 6, 8)]
    widths = {(row["act_bits"], row["wt_bits"]) for row in ComposedModel().tables["pe"] if row["pe_type"] == "int"}
    assert (2, 6) not in widths   # no committed block of these widths: never stood in for by another width
    result = explore("resnet20", "cifar10", space=space)
    assert result.missing_cards == ["int:2x6"] and set(result.columns["pe_type"]) == {"lightpe1"}


def test_explore_writes_the_results(tmp_path, capsys):
    space = tmp_path / "space.yaml"
    space.write_text("pe_types: [int16, lightpe1]\nbase: {glb_banks: 4}\n"
                     "grid: {rows: [2, 3], cols: [2, 3], glb_kib: [16, 32]}\n")
    result = explore("resnet20", "cifar10", space=space)
    assert len(result.columns["pe_type"]) == 16
    columns = result.columns
    valid = result.valid
    assert valid.any()
    # The normalization reference is the best INT16 point.
    int16 = valid & (columns["pe_type"] == "int16")
    assert np.nanmax(columns["norm_perf_per_area"][int16]) == pytest.approx(1.0)
    # Latency is the layers' cycles at the predicted fmax.
    i = int(np.flatnonzero(valid)[0])
    assert columns["latency_s"][i] == pytest.approx(columns["cycles"][i] / (columns["fmax_mhz"][i] * 1e6))

    out = tmp_path / "out"
    status = main(["explore", "--workload", "resnet20", "--space", str(space), "--out", str(out)])
    assert status in (0, None)
    for name in ("points.csv", "pareto.csv", "explore.png", "comparison.json", "comparison.md", "summary.json"):
        assert (out / name).stat().st_size > 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["points"] == 16 and summary["valid"] + sum(summary["failures"].values()) == 16
    assert len((out / "pareto.csv").read_text().splitlines()) == summary["pareto"] + 1
    best = json.loads((out / "comparison.json").read_text())["best"]["lightpe1"]
    row = int(np.flatnonzero(valid & (columns["pe_type"] == "lightpe1"))[0])
    assert best["perf_config"]["rows"] in (2, 3) and best["perf_per_area"] >= columns["perf_per_area"][row]

    page = tmp_path / "report.html"
    status = main(["report", "--explore", str(tmp_path), "--out", str(page)])
    assert status in (0, None)
    text = page.read_text()
    sources = re.findall(r'src="([^"]*)"', text)
    assert sources and all(source.startswith("data:image/png;base64,") for source in sources)
    assert "resnet20 on cifar10" in text and "lightpe1 vs int16" in text
    assert f"rows {best['perf_config']['rows']}, cols {best['perf_config']['cols']}" in text


def test_a_composed_exploration_is_its_blocks_over_the_mapped_layers(tmp_path):
    """With ``model="composed"`` a point's figures are its block composition's: the area and fmax of
    ``ComposedModel.compose``, and the energy of ``Composition.run_energy`` over the exact model's counts of
    each layer's schedule, plus leakage over the latency and the off-chip words."""
    space = tmp_path / "space.yaml"
    space.write_text("pe_types: [lightpe1]\nbase: {glb_banks: 8, ifmap_spad_depth: 12, filter_spad_depth: 64, "
                     "psum_spad_depth: 16}\ngrid: {rows: [4], cols: [4, 14], glb_kib: [32, 512]}\n")
    result = explore("resnet20", "cifar10", space=space, model="composed", dram_pj_per_bit=20.0)
    columns, model = result.columns, ComposedModel()
    assert result.valid.all() and len(result.valid) == 4
    network = get_network("resnet20", "cifar10")
    for index in range(4):
        config = AcceleratorConfig(**result._config(index))
        composition = model.compose(config)
        assert columns["area_mm2"][index] == pytest.approx(composition.total_area_um2 * 1e-6, rel=1e-12)
        assert columns["fmax_mhz"][index] == pytest.approx(composition.fmax_mhz, rel=1e-12)
        # Only a block parameter outside the characterized ones is flagged: here the 512 KiB GLB's banks of
        # sixteen macros (up to eight a bank characterized), never the array size.
        assert bool(columns["extrapolated"][index]) == (config.glb_kib == 512) == bool(composition.warnings)
        if config.cols != 14:
            continue
        performances = [evaluate(map_layer(layer, config)) for layer in network.layers]
        cycles = sum(performance.cycles for performance in performances)
        dynamic = sum(sum(composition.run_energy(performance.cycles, performance.accesses).values())
                      for performance in performances)
        seconds = cycles / (composition.fmax_mhz * 1e6)
        words = sum(performance.accesses["dram.read"] + performance.accesses["dram.write"]
                    for performance in performances)
        assert columns["cycles"][index] == cycles
        assert columns["energy_j"][index] == pytest.approx(
            dynamic + composition.total_leakage_w * seconds + words * config.glb_word_bits * 20e-12, rel=1e-9)


def test_report_without_explorations_exits_2(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["report", "--explore", str(tmp_path), "--out", str(tmp_path / "r.html")])
    assert exit_info.value.code == 2
    assert "no exploration results" in capsys.readouterr().err
    assert not (tmp_path / "r.html").exists()


@pytest.mark.parametrize("args, message", [
    (["--workload", "alexnet"], "unknown workload 'alexnet'"),
    (["--workload", "resnet20", "--dataset", "imagenet"], "not 'imagenet'"),
    (["--workload", "resnet20", "--pe", "int8"], "unknown PE type 'int8'"),
    (["--workload", "resnet20", "--space", "missing.yaml"], "no such file"),
])
def test_explore_bad_input_exits_2(args, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["explore", *args])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_a_space_without_a_valid_point_writes_its_failures_and_exits_1(tmp_path, capsys):
    space = tmp_path / "space.yaml"
    space.write_text("pe_types: [int16]\nbase: {glb_banks: 4}\ngrid: {rows: [2], cols: [2], glb_kib: [16], "
                     "ifmap_spad_depth: [2]}\n")
    with pytest.raises(SystemExit) as exit_info:
        main(["explore", "--workload", "vgg16", "--dataset", "imagenet", "--space", str(space),
              "--out", str(tmp_path / "out")])
    assert exit_info.value.code == 1
    assert "no design point of the space is valid" in capsys.readouterr().err
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["valid"] == 0 and summary["failures"] == {
        "filter width S above the ifmap or filter scratchpad depth": 1}
