"""The block tables exported for peer tools (models/export.py): ZigZag runs a layer on them, Accelergy's
library tables hold every characterized block and action."""

from __future__ import annotations

import csv

import pytest
import yaml

from quidam.characterize.blocks import KINDS
from quidam.config import load_config
from quidam.models.composed import ComposedModel
from quidam.models.export import ACCELERGY_ACTIONS
from quidam.workloads.networks import parse_layer_ref
from quidam_cli import quidam


def test_zigzag_runs_a_layer_on_the_exported_accelerator_with_its_mac_and_memory_costs(tmp_path):
    zigzag = pytest.importorskip("zigzag.api", reason="zigzag-dse 3.9.1 needs Python >= 3.11")
    result = quidam("export", "--to", "zigzag", "--config", "configs/eyeriss.yaml", "--layer", "resnet20:1",
                    "--out", str(tmp_path / "zz"))
    assert result.returncode == 0, result.stderr
    config = load_config("configs/eyeriss.yaml")
    _, layer = parse_layer_ref("resnet20:1")
    composition = ComposedModel().compose(config)
    accelerator = yaml.safe_load((tmp_path / "zz" / "accelerator.yaml").read_text())
    assert accelerator["operational_array"]["sizes"] == [config.cols, config.rows]
    assert accelerator["memories"]["psum_spad"]["size"] == config.psum_spad_depth * config.psum_bits
    assert accelerator["memories"]["glb"]["r_cost"] == pytest.approx(composition.energies["glb"]["read"] * 1e12)

    energy, latency, evaluations = zigzag.get_hardware_performance_zigzag(
        workload=str(tmp_path / "zz" / "workload.yaml"), accelerator=str(tmp_path / "zz" / "accelerator.yaml"),
        mapping=str(tmp_path / "zz" / "mapping.yaml"), opt="latency", dump_folder=str(tmp_path / "out"),
        lpf_limit=4, loma_show_progress_bar=False, enable_mix_spatial_mapping=True)
    cme = evaluations[0][1][0][0]   # the layer's own evaluation
    unit = (composition.energies["mac"]["mac"] + composition.energies["pe_control"]["pe_control_mac"]) * 1e12
    assert cme.mac_energy == pytest.approx(layer.macs * unit, rel=1e-9)
    assert cme.layer.total_mac_count == layer.macs
    # The row-stationary unrolling keeps 14 x (3 x 4) PEs busy at best.
    assert layer.macs / (config.rows * config.cols) <= latency
    assert energy > cme.mac_energy


def test_accelergy_tables_hold_every_characterized_block_and_action(tmp_path):
    result = quidam("export", "--to", "accelergy", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    model = ComposedModel()
    for kind, actions in ACCELERGY_ACTIONS.items():
        lines = (tmp_path / f"{kind}.csv").read_text().splitlines()
        assert lines[0].startswith("# quidam") and "CACTI" in lines[0]
        rows = list(csv.DictReader(lines[1:]))
        assert list(rows[0])[:-3] == ["technology", *KINDS[kind].key]
        assert len(rows) == len(model.tables[kind]) * len(actions)
        for block, row in zip((block for block in model.tables[kind] for _ in actions), rows, strict=True):
            assert row["technology"] == "45" and row["pe_type"] == block["pe_type"]
            assert float(row["energy"]) == pytest.approx(block[f"energy__{row['action']}_j"] * 1e12)
            assert float(row["area"]) == pytest.approx(block["synth__area__total_um2"])


def test_export_to_zigzag_without_a_config_is_one_line_and_exit_2(tmp_path):
    result = quidam("export", "--to", "zigzag", "--out", str(tmp_path))
    assert result.returncode == 2 and result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1 and "--config" in result.stderr


@pytest.mark.parametrize("args, message", [
    (["--to", "zigzag", "--config", "configs/eyeriss.yaml", "--out", "{file}/sub"], "is a file, not a folder"),
    (["--to", "zigzag", "--config", "configs/eyeriss.yaml", "--layer", "resnet20:99", "--out", "{dir}"],
     "not 99"),
    (["--to", "zigzag", "--config", "configs/eyeriss.yaml", "--dram-pj-per-bit", "nan", "--out", "{dir}"],
     "not a finite number"),
    (["--to", "accelergy", "--out", "{file}"], "exists and is not a folder"),
], ids=["out-under-a-file", "no-such-layer", "nan-energy", "out-is-a-file"])
def test_bad_export_input_is_one_line_before_any_warning(tmp_path, args, message):
    (tmp_path / "file").write_text("")
    args = [arg.format(file=tmp_path / "file", dir=tmp_path / "out") for arg in args]
    result = quidam("export", *args)
    assert result.returncode == 2 and result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1 and message in result.stderr
