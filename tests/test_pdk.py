"""Process data: locating the PDK, digest checks, Liberty units, fakeram45 macros, ``quidam pdk info``.

These tests read the real Nangate45 files (``$QUIDAM_PDK_DIR`` or
``../shared/pdk/nangate45`` next to the checkout); parsed libraries are shared
through module-scoped fixtures and the in-process parse cache.
"""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from quidam.cli import cli
from quidam.errors import PDKError
from quidam.pdk import (
    CELL_LIBRARY_SHA256,
    CORNERS,
    PDK_DIR_ENV,
    SRAM_MACRO_NAMES,
    cell_library_path,
    cell_library_summary,
    default_pdk_dir,
    find_macro,
    find_macros,
    read_sram_macro,
    resolve_pdk_dir,
)

REPO = Path(__file__).resolve().parents[1]

try:
    PDK_DIR = resolve_pdk_dir()
except PDKError as missing:
    pytest.skip(f"no Nangate45 data: {missing}", allow_module_level=True)

MACRO_FIELDS = ["name", "depth", "width", "area_um2", "leakage_w", "read_energy_j", "write_energy_j", "clk_to_q_s"]


@pytest.fixture(scope="module")
def typ_summary():
    return cell_library_summary("typ", PDK_DIR)


@pytest.fixture(scope="module")
def macros():
    return {macro.name: macro for macro in find_macros(PDK_DIR)}


@pytest.fixture
def linked_pdk(tmp_path):
    """A PDK directory of symbolic links to the real files; tests replace single files in it."""
    root = tmp_path / "nangate45"
    (root / "fakeram45").mkdir(parents=True)
    for name in CELL_LIBRARY_SHA256:
        (root / name).symlink_to(PDK_DIR / name)
    for lib in (PDK_DIR / "fakeram45").glob("*.lib"):
        (root / "fakeram45" / lib.name).symlink_to(lib)
    return root


def _replace_with_copy(link: Path) -> Path:
    target = link.resolve()
    link.unlink()
    shutil.copyfile(target, link)
    return link


# Locating -------------------------------------------------------------------


def test_option_beats_environment_beats_default(monkeypatch, tmp_path):
    from_option, from_env = tmp_path / "option", tmp_path / "env"
    from_option.mkdir()
    from_env.mkdir()
    monkeypatch.setenv(PDK_DIR_ENV, str(from_env))
    assert resolve_pdk_dir(from_option) == from_option.resolve()
    assert resolve_pdk_dir() == from_env.resolve()
    monkeypatch.setenv(PDK_DIR_ENV, "")
    assert resolve_pdk_dir() == default_pdk_dir()
    monkeypatch.delenv(PDK_DIR_ENV)
    assert resolve_pdk_dir() == default_pdk_dir()


def test_default_is_shared_pdk_next_to_the_checkout():
    assert default_pdk_dir() == (REPO.parent / "shared" / "pdk" / "nangate45").resolve()


def test_missing_directory_error_names_path_source_and_remedy(monkeypatch, tmp_path):
    absent = tmp_path / "absent"
    with pytest.raises(PDKError, match="from --pdk-dir") as raised:
        resolve_pdk_dir(absent)
    assert str(absent) in str(raised.value)
    assert PDK_DIR_ENV in str(raised.value) and "--pdk-dir" in str(raised.value)
    monkeypatch.setenv(PDK_DIR_ENV, str(absent))
    with pytest.raises(PDKError, match=f"{absent}.*from {PDK_DIR_ENV}"):
        cell_library_path("typ")


# Digests --------------------------------------------------------------------


def test_known_digests_match_the_files():
    for corner in CORNERS:
        assert cell_library_path(corner, PDK_DIR).name == f"nangate45_{corner}.lib.gz"


def test_one_corrupt_byte_is_a_digest_mismatch_naming_the_path(linked_pdk):
    lib = _replace_with_copy(linked_pdk / "nangate45_typ.lib.gz")
    data = bytearray(lib.read_bytes())
    data[len(data) // 2] ^= 0xFF
    lib.write_bytes(bytes(data))
    with pytest.raises(PDKError, match="sha256 mismatch") as raised:
        cell_library_path("typ", linked_pdk)
    message = str(raised.value)
    assert str(lib) in message
    assert CELL_LIBRARY_SHA256[lib.name][:16] in message


def test_missing_cell_library_names_the_path(linked_pdk):
    (linked_pdk / "nangate45_fast.lib.gz").unlink()
    with pytest.raises(PDKError, match="missing") as raised:
        cell_library_path("fast", linked_pdk)
    assert str(linked_pdk / "nangate45_fast.lib.gz") in str(raised.value)


# Cell library summary -------------------------------------------------------


def test_typical_cell_library_summary(typ_summary):
    assert typ_summary.name == "NangateOpenCellLibrary"
    assert typ_summary.sha256 == CELL_LIBRARY_SHA256["nangate45_typ.lib.gz"]
    assert (typ_summary.nom_voltage_v, typ_summary.nom_temperature_c, typ_summary.nom_process) == (1.1, 25.0, 1.0)
    units = typ_summary.units
    assert (units.time_s, units.voltage_v, units.current_a) == (1e-9, 1.0, 1e-3)
    assert (units.leakage_power_w, units.capacitance_f) == (1e-9, 1e-15)
    assert units.energy_j == pytest.approx(1e-15)
    assert typ_summary.cell_count == 134
    assert 0 < typ_summary.latch_cell_count < typ_summary.flip_flop_cell_count < typ_summary.cell_count
    assert typ_summary.available_corners == CORNERS


# SRAM macros ----------------------------------------------------------------


def test_all_26_macros_present_with_positive_figures(macros):
    assert sorted(macros) == sorted(SRAM_MACRO_NAMES) and len(macros) == 26
    for name, macro in macros.items():
        assert name == f"fakeram45_{macro.depth}x{macro.width}"
        figures = [macro.area_um2, macro.leakage_w, macro.read_energy_j, macro.write_energy_j, macro.clk_to_q_s]
        assert all(value > 0 for value in figures), name
        # fakeram45 access energies are picojoules, clock-to-output a fraction of a nanosecond.
        assert 1e-13 < macro.read_energy_j < 1e-10 and 1e-11 < macro.clk_to_q_s < 1e-9, name


def test_macros_are_sorted_by_depth_then_width():
    order = [(macro.depth, macro.width) for macro in find_macros(PDK_DIR)]
    assert order == sorted(order)


def test_acceptance_leakage_figures(macros):
    assert macros["fakeram45_512x64"].leakage_w == pytest.approx(8.23e-4, rel=1e-3)
    assert macros["fakeram45_64x62"].leakage_w == pytest.approx(2.80e-4, rel=1e-3)


def test_uw_and_pf_files_land_in_the_range_of_their_nw_and_ff_neighbours(macros):
    # 64x62 and 64x124 state leakage in uW and capacitance in pF; misreading
    # either would put them 1000x away from the 64x64 and 64x96 macros.
    for odd, neighbour in (("fakeram45_64x62", "fakeram45_64x64"), ("fakeram45_64x124", "fakeram45_64x96")):
        for field in ("leakage_w", "read_energy_j", "write_energy_j", "clk_to_q_s", "area_um2"):
            ratio = getattr(macros[odd], field) / getattr(macros[neighbour], field)
            assert 0.3 < ratio < 3.5, (odd, field, ratio)


def test_energy_is_clock_rise_plus_fall_in_cap_unit_times_volt_squared(macros):
    # clk internal_power: 3.326 (pF V^2) in 64x62, 5300.430 (fF V^2) in 512x64, rise and fall each.
    assert macros["fakeram45_64x62"].read_energy_j == pytest.approx(2 * 3.326e-12)
    assert macros["fakeram45_512x64"].write_energy_j == pytest.approx(2 * 5300.430e-15)
    assert macros["fakeram45_64x62"].clk_to_q_s == pytest.approx(0.237e-9)
    assert macros["fakeram45_512x64"].clk_to_q_s == pytest.approx(0.305e-9)


def test_when_conditions_split_read_from_write_energy(tmp_path):
    text = (PDK_DIR / "fakeram45" / "fakeram45_512x64.lib").read_text()
    unconditional = """        internal_power(){
            rise_power(scalar) {
                values ("5300.430")
            }
            fall_power(scalar) {
                values ("5300.430")
            }
        }"""
    assert text.count(unconditional) == 1
    conditional = "\n".join(
        f"""        internal_power(){{
            when : "{when}";
            rise_power(scalar) {{ values ("{energy}"); }}
            fall_power(scalar) {{ values ("{energy}"); }}
        }}"""
        for when, energy in (("!we_in", 1000.0), ("we_in", 3000.0))
    )
    lib = tmp_path / "fakeram45_512x64.lib"
    lib.write_text(text.replace(unconditional, conditional))
    macro = read_sram_macro(lib)
    assert macro.read_energy_j == pytest.approx(2 * 1000.0e-15)
    assert macro.write_energy_j == pytest.approx(2 * 3000.0e-15)


def test_find_macro_by_shape():
    assert find_macro(512, 64, PDK_DIR).name == "fakeram45_512x64"
    with pytest.raises(PDKError, match="available: 32x32"):
        find_macro(100, 10, PDK_DIR)


def test_corrupt_macro_file_names_the_path(linked_pdk):
    lib = _replace_with_copy(linked_pdk / "fakeram45" / "fakeram45_64x64.lib")
    lib.write_text(lib.read_text()[:3000])
    with pytest.raises(PDKError, match="not a valid Liberty file") as raised:
        find_macros(linked_pdk)
    assert lib.name in str(raised.value)


def test_macro_without_leakage_names_the_path_and_attribute(linked_pdk):
    lib = _replace_with_copy(linked_pdk / "fakeram45" / "fakeram45_64x62.lib")
    lib.write_text(lib.read_text().replace("cell_leakage_power : 280.070;", ""))
    with pytest.raises(PDKError, match="cell_leakage_power.*missing") as raised:
        find_macros(linked_pdk)
    assert str(lib) in str(raised.value)


def test_missing_macro_file_names_the_path(linked_pdk):
    (linked_pdk / "fakeram45" / "fakeram45_2048x39.lib").unlink()
    with pytest.raises(PDKError, match="missing") as raised:
        find_macros(linked_pdk)
    assert "fakeram45_2048x39.lib" in str(raised.value)


# Command line ---------------------------------------------------------------


def test_info_json_lists_the_library_and_26_macros(typ_summary, macros):
    result = CliRunner().invoke(cli, ["pdk", "info", "--json", "--pdk-dir", str(PDK_DIR)])
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert set(document) == {"cell_library", "macros"}
    assert document["cell_library"]["name"] == typ_summary.name
    assert document["cell_library"]["sha256"] == typ_summary.sha256
    listed = document["macros"]
    assert len(listed) == 26 and all(list(entry) == MACRO_FIELDS for entry in listed)
    assert [(entry["depth"], entry["width"]) for entry in listed] == sorted((e["depth"], e["width"]) for e in listed)
    by_name = {entry["name"]: entry for entry in listed}
    assert by_name["fakeram45_512x64"]["leakage_w"] == macros["fakeram45_512x64"].leakage_w


def test_info_prints_summary_then_aligned_table():
    result = CliRunner().invoke(cli, ["pdk", "info", "--pdk-dir", str(PDK_DIR)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("cell library") and "NangateOpenCellLibrary" in lines[0]
    header = next(index for index, line in enumerate(lines) if line.startswith("name "))
    table = lines[header:]
    assert len(table) == 27
    # Right-aligned numbers: every row ends where the header ends.
    assert len({len(line) for line in table}) == 1


@pytest.mark.parametrize("problem", ["missing directory", "corrupt library"])
def test_info_error_is_one_line_exit_2_without_traceback(problem, linked_pdk, tmp_path):
    if problem == "missing directory":
        pdk_dir, expected = tmp_path / "absent", str(tmp_path / "absent")
    else:
        lib = _replace_with_copy(linked_pdk / "nangate45_typ.lib.gz")
        lib.write_bytes(lib.read_bytes()[:-1])
        pdk_dir, expected = linked_pdk, str(lib)
    done = subprocess.run(
        [sys.executable, "-m", "quidam", "pdk", "info", "--pdk-dir", str(pdk_dir)],
        capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert "Traceback" not in done.stderr
    assert len(done.stderr.splitlines()) == 1 and done.stderr.startswith("error: ")
    assert expected in done.stderr
