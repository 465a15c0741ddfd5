"""The mapper and the analytical model without simulation: coverage of the real networks, the closed-form cost
the search ranks mappings by, capacity errors, and the command encoding."""

import itertools
import json
import subprocess
import sys

import numpy as np
import pytest

from quidam.config import load_config, parse_config
from quidam.formats.conv import conv2d_golden
from quidam.mapping import CommandFormat, MappingError, evaluate, map_layer
from quidam.mapping.mapper import _build, _Plan, accelerator_timing, plan_layer
from quidam.mapping.schedule import IfmapBlock
from quidam.mapping.search import LayerTable, ifmap_feed, mapping_costs, point_table
from quidam.workloads.layer import ConvLayer
from quidam.workloads.networks import get_network, parse_layer_ref

pytestmark = pytest.mark.filterwarnings("ignore::amaranth.hdl.UnusedElaboratable")

EYERISS = load_config("configs/eyeriss.yaml")
SMALL = parse_config({"rows": 4, "cols": 6, "ifmap_spad_depth": 9, "filter_spad_depth": 40, "psum_spad_depth": 5,
                      "glb_kib": 16, "glb_banks": 4})


@pytest.mark.parametrize("network,dataset", [("vgg16", "cifar10"), ("resnet20", "cifar10"),
                                             ("resnet56", "cifar100"), ("vgg16", "imagenet"),
                                             ("resnet34", "imagenet"), ("resnet50", "imagenet")])
def test_every_layer_of_the_workloads_maps_onto_eyeriss(network, dataset):
    for layer in get_network(network, dataset).layers:
        choice, cycles = plan_layer(layer, EYERISS)
        assert cycles * EYERISS.rows * EYERISS.cols >= layer.macs
        assert choice["p"] * choice["q"] * layer.S <= EYERISS.filter_spad_depth


def _covering(plans: list[tuple], strength: int) -> list[tuple]:
    """A subset of ``plans`` (tuples of parameter values) in which every combination of values that any
    ``strength`` parameters take together in some plan appears at least once (greedy: each pick covers the
    most combinations still missing)."""
    def combinations(plan):
        return {tuple((i, plan[i]) for i in group) for group in itertools.combinations(range(len(plan)), strength)}
    missing, chosen = set().union(*map(combinations, plans)), []
    while missing:
        best = max(plans, key=lambda plan: len(combinations(plan) & missing))
        chosen.append(best)
        missing -= combinations(best)
    return chosen


@pytest.mark.parametrize("config", [EYERISS, SMALL], ids=["eyeriss", "4x6"])
@pytest.mark.parametrize("ref", ["resnet20:0", "resnet20:1", "resnet20:7", "resnet20:9", "resnet34:0"])
def test_the_closed_form_cost_of_any_mapping_equals_the_model_of_its_schedule(config, ref):
    # Fitting (p, q, e, f, wide, overlap) on a grid of edge values, not only the search's choice: every three
    # parameters' values that fit together (building every fitting plan took 50 CPU-minutes for the ten layers).
    _, layer = parse_layer_ref(ref)
    layer = layer.scaled(0.25) if layer.H > 32 else layer
    timing = accelerator_timing(config)
    points = point_table([config], [timing])
    quantum = int(LayerTable(layer, points).tile_quantum[0])
    grid = itertools.product((1, 2, config.ifmap_spad_depth // layer.S), (1, 3, min(layer.M, config.psum_spad_depth)),
                             (1, 2, min(layer.E, config.cols)),
                             sorted({layer.F, quantum, 3 * quantum} & set(range(1, layer.F + 1))),
                             (False, True), (False, True))
    fitting = [(p, q, e, f, wide, overlap) for q, p, e, f, wide, overlap in grid
               if _Plan(layer, config, timing, p, q, e, wide, overlap, f).fits()]
    chosen = _covering(fitting, strength=3)
    for p, q, e, f, wide, overlap in chosen:
        performance = evaluate(_build(_Plan(layer, config, timing, p, q, e, wide, overlap, f)))
        cycles, accesses = mapping_costs(layer, points, p=p, q=q, e=e, f=f, wide=wide, overlap=overlap)
        assert cycles[0] == performance.cycles, (p, q, e, f, wide, overlap)
        assert {key: int(value[0]) for key, value in accesses.items()} == performance.accesses
        assert performance.macs == layer.macs
    assert len(fitting) >= 16 and sum(f < layer.F for *_, f, _, _ in chosen) >= 2


def test_the_schedule_reads_every_weight_and_writes_every_output_once():
    _, layer = parse_layer_ref("resnet20:7")
    schedule = map_layer(layer, SMALL)
    stored = np.concatenate([block.weights().reshape(-1, 4) for block in schedule.dram.weight_blocks])
    stored = stored[stored[:, 0] >= 0]
    assert len({tuple(weight) for weight in stored.tolist()}) == len(stored) == layer.M * layer.C * layer.R * layer.S
    performance = evaluate(schedule)
    # Every output in exactly one place of one drained block, the blocks one after another after the weights.
    seen = np.zeros((layer.M, layer.E, layer.F), dtype=np.int64)
    places = set()
    address = schedule.dram.weight_blocks[-1].base + schedule.dram.weight_blocks[-1].words
    for block in schedule.dram.ofmap_blocks:
        assert block.base == address
        address += block.words
        words, lanes = block.places()
        seen[block.m0:block.m0 + block.p, block.e0:block.e0 + block.cols, block.f0:block.f0 + block.F] += 1
        places |= {(block.base + int(w), int(lane)) for w, lane in zip(words.ravel(), lanes.ravel())}
        assert words.max() < block.words
    assert (seen == 1).all() and len(places) == layer.M * layer.E * layer.F
    assert address == schedule.dram.words
    assert performance.accesses["dram.write"] == sum(block.words for block in schedule.dram.ofmap_blocks)
    assert sum(ps.drain for ps in schedule.passes) == len(schedule.dram.ofmap_blocks)


def test_a_channel_packed_ifmap_block_holds_each_channel_once_where_its_set_takes_it():
    # Set k keeps channels c0 + k*q + i; its PEs take lane (i mod slot_words) * set_lanes + k mod set_lanes of
    # the word row (k // set_lanes) * slot_rows + i // slot_words, in beat i of group k // set_lanes.
    for channels, q, vi in itertools.product(range(1, 30), range(1, 8), (1, 2, 3, 4, 5, 8)):
        block = IfmapBlock(base=0, c0=5, channels=channels, q=q, vi=vi, H=1, W=1)
        lanes = block.channels_of()
        sets = -(-channels // q)
        expected = np.full_like(lanes, -1)
        for k in range(sets):
            for i in range(min(q, channels - k * q)):
                row = (k // block.set_lanes) * block.slot_rows + i // block.slot_words
                expected[row, (i % block.slot_words) * block.set_lanes + k % block.set_lanes] = 5 + k * q + i
        assert block.set_lanes == min(vi, sets)
        assert (lanes == expected).all(), (channels, q, vi)
        beats = sum(min(q, channels - g * block.set_lanes * q) for g in range(block.groups))
        assert ifmap_feed(channels, q, vi) == (beats, block.word_rows)


def test_the_fp32_reduction_groups_cover_every_term_once():
    _, layer = parse_layer_ref("resnet20:1")
    schedule = map_layer(layer.scaled(0.5), EYERISS.replace(pe_type="fp32", act_bits=32, wt_bits=32, psum_bits=32))
    terms = [term for group in schedule.reduction_groups for term in group]
    assert sorted(terms) == sorted((c, r, s) for c in range(8) for r in range(3) for s in range(3))


def test_grouped_fp32_golden_with_one_group_is_the_sequential_sum():
    config = EYERISS.replace(pe_type="fp32", act_bits=32, wt_bits=32, psum_bits=32)
    rng = np.random.default_rng(3)
    ifmap = rng.standard_normal((1, 2, 5, 5)).astype(np.float32)
    weights = rng.standard_normal((3, 2, 3, 3)).astype(np.float32)
    order = [(c, r, s) for r in range(3) for c in range(2) for s in range(3)]
    one = conv2d_golden(ifmap, weights, config=config, stride=1, padding=1, groups=[order])
    sequential = conv2d_golden(ifmap, weights, config=config, stride=1, padding=1, order=order)
    assert (one == sequential).all()
    split = conv2d_golden(ifmap, weights, config=config, stride=1, padding=1, groups=[order[:9], order[9:]])
    close = np.isclose(split.view(np.float32), sequential.view(np.float32), rtol=1e-5, atol=1e-5)
    assert close.all()


def test_a_filter_wider_than_the_ifmap_scratchpad_names_the_capacity():
    config = parse_config({"ifmap_spad_depth": 5})
    layer = ConvLayer(name="wide", C=3, M=8, H=32, W=32, R=7, S=7, stride=2, padding=3)
    with pytest.raises(MappingError, match=r"filter width S=7 needs an ifmap scratchpad of at least 7 entries.*"
                                           r"ifmap_spad_depth is 5"):
        map_layer(layer, config)


def test_a_global_buffer_too_small_names_the_shortfall():
    config = parse_config({"glb_kib": 1, "glb_banks": 1})
    layer = ConvLayer(name="big", C=64, M=64, H=224, W=224, R=3, S=3, stride=1, padding=1)
    with pytest.raises(MappingError, match=r"global buffer is too small: the smallest pass needs \d+ words.*"
                                           r"glb_kib=1 holds 128"):
        map_layer(layer, config)


def test_simulate_cli_exits_2_naming_the_short_capacity(tmp_path):
    config = tmp_path / "narrow.yaml"
    config.write_text("ifmap_spad_depth: 5\n")
    done = subprocess.run([sys.executable, "-m", "quidam", "simulate", "--config", str(config),
                           "--layer", "resnet34:0", "--dataset", "imagenet"], capture_output=True, text=True)
    assert done.returncode == 2
    assert "ifmap_spad_depth is 5" in done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_the_command_fields_hold_the_largest_configuration():
    from quidam.config import FIELDS
    from quidam.mapping.commands import field_bits
    high = {rule.name: rule.high for rule in FIELDS}
    assert high["rows"] < 1 << field_bits("sets") and high["cols"] < 1 << field_bits("cols")
    for depth in ("ifmap_spad_depth", "filter_spad_depth", "psum_spad_depth"):
        assert high[depth] < 1 << field_bits("q")     # p, q, slots, q*S, S, ring are at most a depth
    assert high["psum_spad_depth"] < 1 << field_bits("p")


def test_command_words_encode_every_field_in_its_width():
    schedule = map_layer(parse_layer_ref("resnet20:7")[1], SMALL)
    fmt = CommandFormat(SMALL)
    for command, word in zip(schedule.commands, schedule.encoded()):
        assert 0 <= word < 1 << fmt.width
        shift = 2
        for name, width in fmt.fields(type(command)).items():
            assert (word >> shift) & ((1 << width) - 1) == getattr(command, name)
            shift += width


def test_simulate_cli_json_and_dump(tmp_path):
    config = tmp_path / "small.yaml"
    config.write_text("rows: 3\ncols: 4\nglb_kib: 8\nglb_banks: 2\n")
    done = subprocess.run([sys.executable, "-m", "quidam", "simulate", "--config", str(config), "--layer",
                           "resnet20:9", "--channels-scale", "0.125", "--json", "--dump", str(tmp_path / "dump"),
                           "--build", str(tmp_path / "build")], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout)
    assert result["bit_exact"] and result["rtl_cycles"] == result["model_cycles"]
    assert result["accesses"]["rtl"] == result["accesses"]["model"]
    assert np.load(tmp_path / "dump" / "ifmap.npy").shape == (1, 2, 32, 32)
    assert np.load(tmp_path / "dump" / "weights.npy").shape == (4, 2, 1, 1)
    assert np.load(tmp_path / "dump" / "ofmap.npy").shape == (1, 4, 16, 16)
