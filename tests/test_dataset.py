"""The characterization dataset (CSV): columns and their order, merging, missing metrics, README table.

The writer is exercised here on metrics shaped like ``metrics.json``; the
dataset of a real sweep is checked against its run folders in test_sweep.py.
"""

import csv
from pathlib import Path

import pytest

from quidam.characterize.block_dataset import merge_block_dataset, read_block_dataset
from quidam.characterize.dataset import (COLUMNS, CONFIG_COLUMNS, DatasetError, columns_markdown, dataset_columns,
                                         dataset_path, read_dataset, update_dataset)
from quidam.config import FIELDS, AcceleratorConfig
from quidam.errors import QuidamError

README = Path(__file__).resolve().parents[1] / "README.md"


def _metrics(design_id, area=100.0, **extra):
    return {
        "design_id": design_id, "run_dir": f"runs/nangate45/{design_id}", "status": "ok",
        "synth__area__total_um2": area, "synth__area__stdcell_um2": area, "synth__area__sequential_um2": area / 4,
        "synth__area__combinational_um2": area * 3 / 4, "synth__area__macro_um2": 0.0,
        "synth__cells__count": 12, "power__total__dynamic_w": 1e-4, "power__total__leakage_w": 5e-6,
        "power__total__total_w": 1.05e-4, "sta__timing__critical_path_ns": 1.25, "sta__timing__fmax_mhz": 800.0,
        "power__mac__energy_per_op_j": 3.1e-13, "provenance": {"tools": {}}, **extra,
    }


def _config(**fields):
    return AcceleratorConfig(pe_type="int16", **fields)


def _read(path):
    with open(path, newline="") as stream:
        return list(csv.DictReader(stream))


def test_columns_are_config_fields_then_metrics_in_the_documented_order(tmp_path):
    path = dataset_path(tmp_path / "data", "int16")
    assert path == tmp_path / "data" / "int16.csv"
    assert update_dataset([(_config(rows=4), _metrics("b" * 16))], path) == 1
    header = path.read_text().splitlines()[0].split(",")
    assert header == [*(rule.name for rule in FIELDS), "synth__area__total_um2",
                      "synth__area__combinational_um2", "synth__area__macro_um2", "synth__area__sequential_um2",
                      "synth__area__stdcell_um2", "power__total__dynamic_w", "power__total__leakage_w",
                      "sta__timing__critical_path_ns", "sta__timing__fmax_mhz", "power__mac__energy_per_op_j",
                      "design_id"]
    (row,) = _read(path)
    assert row["rows"] == "4" and row["pe_type"] == "int16" and row["clock_mhz"] == "200.0"
    assert float(row["power__mac__energy_per_op_j"]) == 3.1e-13 and row["design_id"] == "b" * 16


def test_families_take_every_block_and_action_in_name_order():
    metrics = _metrics("a" * 16, synth__area__glb_um2=50.0, power__glb_read__energy_j=1e-12,
                       power__spad_ifmap_write__energy_per_access_j=2e-13)
    names = dataset_columns([metrics])
    assert names[:len(CONFIG_COLUMNS)] == list(CONFIG_COLUMNS)
    areas = [name for name in names if name.startswith("synth__area__")]
    assert areas == ["synth__area__total_um2", "synth__area__combinational_um2", "synth__area__glb_um2",
                     "synth__area__macro_um2", "synth__area__sequential_um2", "synth__area__stdcell_um2"]
    assert names[-4:] == ["power__glb_read__energy_j", "power__mac__energy_per_op_j",
                          "power__spad_ifmap_write__energy_per_access_j", "design_id"]
    assert "synth__cells__count" not in names and "power__total__total_w" not in names


def test_rerunning_merges_one_row_per_configuration_sorted_and_byte_stable(tmp_path):
    path = tmp_path / "int16.csv"
    update_dataset([(_config(rows=8), _metrics("8" * 16)), (_config(rows=16), _metrics("f" * 16))], path)
    update_dataset([(_config(rows=4), _metrics("4" * 16))], path)
    assert [row["rows"] for row in _read(path)] == ["4", "8", "16"]  # numeric order, not text order
    text = path.read_text()
    update_dataset([(_config(rows=4), _metrics("4" * 16))], path)
    assert path.read_text() == text

    # A new result for a configuration replaces its row (a new design point of the same configuration).
    update_dataset([(_config(rows=8), _metrics("9" * 16, area=120.0))], path)
    rows = _read(path)
    assert [(row["rows"], row["design_id"]) for row in rows] == [("4", "4" * 16), ("8", "9" * 16),
                                                                 ("16", "f" * 16)]
    assert rows[1]["synth__area__total_um2"] == "120.0"
    assert not list(tmp_path.glob(".*.tmp"))


def test_a_missing_metric_is_an_error_not_an_empty_cell(tmp_path):
    path = tmp_path / "int16.csv"
    lacking = _metrics("c" * 16)
    del lacking["sta__timing__fmax_mhz"]
    with pytest.raises(DatasetError, match=f"design point {'c' * 16} .*metrics.json has no sta__timing__fmax_mhz"):
        update_dataset([(_config(), lacking)], path)
    # A block one point has and another lacks.
    with pytest.raises(DatasetError, match="has no synth__area__glb_um2"):
        update_dataset([(_config(), _metrics("d" * 16, synth__area__glb_um2=1.0)),
                        (_config(rows=4), _metrics("e" * 16))], path)
    with pytest.raises(DatasetError, match="power__total__leakage_w is 'n/a', not a number"):
        update_dataset([(_config(), _metrics("d" * 16, power__total__leakage_w="n/a"))], path)
    with pytest.raises(DatasetError, match="no finished point"):
        update_dataset([], path)
    assert not path.exists()


def test_existing_rows_with_other_columns_are_not_silently_mixed(tmp_path):
    path = tmp_path / "int16.csv"
    update_dataset([(_config(rows=4), _metrics("4" * 16))], path)
    with pytest.raises(DatasetError, match="1 rows of other configurations have different columns.*"
                                           "synth__area__glb_um2"):
        update_dataset([(_config(rows=8), _metrics("8" * 16, synth__area__glb_um2=3.0))], path)
    # Replacing every old row is fine: the dataset takes the new columns.
    assert update_dataset([(_config(rows=4), _metrics("5" * 16, synth__area__glb_um2=3.0))], path) == 1
    assert "synth__area__glb_um2" in read_dataset(path)[0]


def test_a_file_that_is_not_a_dataset_is_refused(tmp_path):
    path = tmp_path / "int16.csv"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(DatasetError, match="not a quidam dataset"):
        update_dataset([(_config(), _metrics("a" * 16))], path)
    update_dataset([(_config(), _metrics("a" * 16))], tmp_path / "ok.csv")
    lines = (tmp_path / "ok.csv").read_text().splitlines()
    (tmp_path / "short.csv").write_text("\n".join([lines[0], lines[1].rsplit(",", 2)[0]]) + "\n")
    with pytest.raises(DatasetError, match="line 2 has fewer fields"):
        read_dataset(tmp_path / "short.csv")


def test_readme_documents_the_columns():
    assert columns_markdown() in README.read_text()
    assert len(columns_markdown().splitlines()) == 2 + len(COLUMNS)


def test_a_block_dataset_merges_other_pe_types_rows_and_replaces_its_own(tmp_path):
    """``quidam characterize-blocks --pe int:4x4`` adds its rows to a table holding the seed types' rows."""
    path = tmp_path / "mac.csv"

    def row(pe_type, act, wt, area):
        return {"pe_type": pe_type, "act_bits": act, "wt_bits": wt, "psum_bits": 32, "synth__area__total_um2": area,
                "design_id": f"{area:016x}"}

    assert merge_block_dataset([row("int16", 16, 16, 10), row("lightpe1", 8, 8, 20)], path) == 2
    assert merge_block_dataset([row("int", 4, 4, 30), row("int16", 16, 16, 11)], path) == 3
    kept = {(r["pe_type"], r["act_bits"]): r["synth__area__total_um2"] for r in read_block_dataset(path)}
    assert kept == {("int", 4): 30, ("int16", 16): 11, ("lightpe1", 8): 20}
    with pytest.raises(QuidamError, match="different metrics"):
        merge_block_dataset([{**row("int", 2, 2, 40), "energy__mac_j": 1e-12}], path)
