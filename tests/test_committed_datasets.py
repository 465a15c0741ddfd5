"""The committed characterization datasets (``data/characterization/<pe>.csv``) hold what users fit and explore on.

They come from ``make characterize PE=<pe>`` (the ``default`` sweep); these
checks read them as a user would: the same grid for every seed PE type, every
column filled, the figures consistent with each other, and the PE area ordered
as the number formats' cost says it must be.
"""

import csv
from pathlib import Path

import pytest

from quidam.characterize.dataset import ACTIONS, CONFIG_COLUMNS
from quidam.characterize.points import load_sweep

DATA = Path(__file__).resolve().parents[1] / "data" / "characterization"
SEED_TYPES = ("lightpe1", "lightpe2", "int16", "fp32")
# Fields that vary in the default sweep; the others are the PE type's (widths) or fixed.
GRID = ("rows", "cols", "ifmap_spad_depth", "filter_spad_depth", "psum_spad_depth", "glb_kib")
PE_BLOCKS = ("mac", "ifmap_spad", "filter_spad", "psum_spad", "pe_control")
BLOCKS = (*PE_BLOCKS, "array_bus", "glb", "controller", "top")


def _rows(pe_type):
    path = DATA / f"{pe_type}.csv"
    if not path.is_file():
        pytest.skip(f"{path} is not committed yet (make characterize PE={pe_type} writes it)")
    with open(path, newline="") as stream:
        return list(csv.DictReader(stream))


def _key(row):
    return tuple(int(row[name]) for name in GRID)


def _pe_area(row):
    """Area of one PE: the PE blocks of the whole array over its PE count."""
    return sum(float(row[f"synth__area__block__{block}_um2"]) for block in PE_BLOCKS) / (
        int(row["rows"]) * int(row["cols"]))


@pytest.mark.parametrize("pe_type", SEED_TYPES)
def test_dataset_is_the_default_sweep_complete_and_consistent(pe_type):
    rows = _rows(pe_type)
    expected = {tuple(getattr(config, name) for name in GRID) for config in load_sweep("default", pe_type)}
    assert {_key(row) for row in rows} == expected
    for row in rows:
        assert row["pe_type"] == pe_type and all(row[name] != "" for name in row)
        total = float(row["synth__area__total_um2"])
        assert sum(float(row[f"synth__area__block__{block}_um2"]) for block in BLOCKS) == pytest.approx(total,
                                                                                                      rel=1e-3)
        assert float(row["synth__area__stdcell_um2"]) + float(row["synth__area__macro_um2"]) == pytest.approx(total)
        assert float(row["sta__timing__fmax_mhz"]) == pytest.approx(1000 / float(row["sta__timing__critical_path_ns"]))
        dynamic = sum(float(row[f"power__block__{block}__dynamic_w"]) for block in BLOCKS)
        assert dynamic == pytest.approx(float(row["power__total__dynamic_w"]), rel=1e-6)
        assert all(float(row[column]) > 0 for column, _, _ in ACTIONS)
        assert set(CONFIG_COLUMNS) <= set(row)


def test_pe_area_is_ordered_by_number_format_at_equal_configuration():
    """QADAM's premise: lightpe1 < lightpe2 < int16 < fp32, at every configuration of the grid."""
    committed = [pe_type for pe_type in SEED_TYPES if (DATA / f"{pe_type}.csv").is_file()]
    if len(committed) < 2:
        pytest.skip(f"only {', '.join(committed) or 'no'} dataset committed: nothing to order")
    by_type = {pe_type: {_key(row): _pe_area(row) for row in _rows(pe_type)} for pe_type in committed}
    shared = set.intersection(*(set(areas) for areas in by_type.values()))
    assert shared
    for key in sorted(shared):
        areas = [by_type[pe_type][key] for pe_type in committed]
        assert areas == sorted(areas) and len(set(areas)) == len(areas), dict(zip(committed, areas))


@pytest.mark.parametrize("pe_type", SEED_TYPES)
def test_bigger_arrays_and_buffers_cost_area(pe_type):
    area = {_key(row): float(row["synth__area__total_um2"]) for row in _rows(pe_type)}
    base = (2, 2, 12, 32, 16, 16)
    assert area[base] < area[(2, 3, 12, 32, 16, 16)] < area[(3, 3, 12, 32, 16, 16)]
    assert area[base] < area[(2, 2, 12, 32, 16, 32)]  # twice the GLB: twice the macros
    assert area[base] < area[(2, 2, 24, 32, 16, 16)] and area[base] < area[(2, 2, 12, 32, 32, 16)]
