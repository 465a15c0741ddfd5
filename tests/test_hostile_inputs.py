"""Hostile input at the command line: every bad file or argument is one line on stderr, exit 2, no traceback.

The families of the issue's probe, written out (odd files, encodings, YAML
bombs, huge numbers, NaN, grids, bad outputs), then property-based tests
(Hypothesis) that generate at least 300 more per run over the config, sweep
and space loaders and the command line, all in-process (fast).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from quidam.characterize.points import load_sweep
from quidam.config import FIELDS, PE_TYPES, load_config
from quidam.dse.space import load_space
from quidam.errors import QuidamError
from quidam_cli import refused, run_cli

REPO = Path(__file__).resolve().parents[1]
FIELD_NAMES = [rule.name for rule in FIELDS]


def _bomb(levels: int = 12) -> str:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


FILE_FAMILIES = {
    "nan clock": (b"clock_mhz: .nan\n", "clock_mhz: must be a number in 10..2000, not nan"),
    "inf clock": (b"clock_mhz: -.inf\n", "clock_mhz: must be a number in 10..2000, not -inf"),
    "duplicate key": (b"rows: 4\nrows: 8\n", "duplicate key 'rows'"),
    "billion laughs": (_bomb().encode(), "aliases (*name) are not accepted"),
    "thousands of digits": (b"rows: " + b"7" * 5000 + b"\n", "an integer of 5000 digits"),
    "500 deep": (b"[" * 500 + b"]" * 500 + b"\n", "nested deeper than 32 levels"),
    "latin-1": ("pe_type: int16 # caf\u00e9\n".encode("latin-1"), "not UTF-8 text (byte 0xe9"),
    "utf-16 with BOM": ("rows: 4\n".encode("utf-16"), "not UTF-8 text (byte 0xff at offset 0)"),
    "binary": (b"rows: 4\x00\x01\n", "a binary file (NUL byte"),
    "too large": (b"#" * (1 << 20) + b"\nrows: 4\n", "larger than the 1 MiB limit"),
    "bad timestamp": (b"rows: 2020-13-45\n", "unreadable YAML value"),
    "python tag": (b"rows: !!python/object/apply:os.system [touch PWNED]\n", "malformed YAML"),
}


@pytest.mark.parametrize("name", FILE_FAMILIES)
def test_hostile_configuration_files_are_refused_in_one_line(tmp_path, name):
    content, message = FILE_FAMILIES[name]
    path = tmp_path / "c.yaml"
    path.write_bytes(content)
    start = time.perf_counter()
    for command in (["config", "validate", path],
                    ["predict", "--config", path, "--model", "cards", "--models", tmp_path]):
        assert message in refused(*command)
    assert time.perf_counter() - start < 30
    assert not (tmp_path / "PWNED").exists()


def test_a_utf8_byte_order_mark_is_accepted(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_bytes("\ufeffrows: 4\n".encode())
    assert load_config(path).rows == 4


def test_odd_files_are_refused_without_waiting(tmp_path):
    fifo = tmp_path / "fifo.yaml"
    os.mkfifo(fifo)
    assert "not a regular file (a FIFO, device or socket)" in refused("config", "validate", fifo)
    assert "not a regular file" in refused("config", "validate", "/dev/zero")
    assert "not a regular file" in refused("characterize", "--pe", "int", "--sweep", fifo)
    assert "is a folder, not a file" in refused("explore", "--workload", "vgg16", "--space", tmp_path)
    assert "no such file" in refused("config", "validate", tmp_path / "none.yaml")


@pytest.mark.parametrize("text, message", [
    ("", "grid: missing or empty"),
    ("base: {rows: 4}\n", "grid: missing or empty"),
    ("grid: [{rows: [2]}, {}]\n", "an empty mapping in the list"),
    ("grid: {rows: [2, 3, 4, 5, 6, 7, 8, 9, 10, 11], cols: [2, 3, 4, 5, 6, 7, 8, 9, 10, 11], "
     "glb_kib: [16, 32, 64, 128, 256, 512, 1024, 2048, 1, 2], ifmap_spad_depth: [2, 4, 8, 16, 32, 64, 128, 256, 3, 5, "
     "6]}\n", "grid: 11,000 combinations, more than the cap of 10,000 per sweep"),
    ("grid: {clock_mhz: [100, .nan]}\n", "clock_mhz: must be a number in 10..2000, not nan"),
])
def test_empty_huge_and_nan_sweeps_are_refused(tmp_path, text, message):
    path = tmp_path / "sweep.yaml"
    path.write_text(text)
    line = refused("characterize", "--pe", "int", "--unit", "mac", "--sweep", path, "--runs", tmp_path / "runs")
    assert message in line
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("text, message", [
    ("pe_types: 5\n", "pe_types must be a list of PE types"),
    ("pe_types: true\n", "pe_types must be a list of PE types"),
    ("grid: {rows: [\n", "malformed YAML at line 2"),
    ("grid: {rows: [2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, "
     "28, 29, 30, 31, 32], cols: [2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, "
     "25, 26, 27, 28, 29, 30, 31, 32], glb_kib: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096], "
     "dram_bytes_per_cycle: [1, 2, 4, 8, 16]}\n", "points (4 PE types x the grid), more than the cap of 200,000"),
    ("base: {dram_bytes_per_cycle: .inf}\n", "dram_bytes_per_cycle: must be an integer in 1..1024, not inf"),
])
def test_bad_spaces_are_refused(tmp_path, text, message):
    path = tmp_path / "space.yaml"
    path.write_text(text)
    assert message in refused("explore", "--workload", "vgg16", "--space", path, "--out", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_nan_in_a_dataset_or_a_model_card_is_refused(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    lines = (REPO / "data/characterization/int16.csv").read_text().splitlines()
    header = lines[0].split(",")
    row = lines[3].split(",")
    row[header.index("synth__area__total_um2")] = "nan"
    (data / "int16.csv").write_text("\n".join([lines[0], *lines[1:3], ",".join(row), *lines[4:]]) + "\n")
    assert "line 4: column synth__area__total_um2 is 'nan', not a finite number" in refused(
        "fit", "--pe", "int16", "--data", data, "--models", tmp_path / "m", "--report", tmp_path / "r")
    (data / "int16.csv").write_bytes(os.urandom(2000) + b"\xff")
    assert "not UTF-8 text" in refused("fit", "--pe", "int16", "--data", data, "--models", tmp_path / "m",
                                       "--report", tmp_path / "r")

    cards = tmp_path / "cards"
    cards.mkdir()
    card = json.loads((REPO / "models/cards/int16.json").read_text())
    next(iter(card["targets"].values()))["coef"][0] = float("nan")
    (cards / "int16.json").write_text(json.dumps(card))
    config = tmp_path / "c.yaml"
    config.write_text("pe_type: int16\n")
    assert "NaN is not a number quidam accepts" in refused("predict", "--config", config, "--model", "cards",
                                                           "--models", cards)
    assert "NaN is not a number" in refused("explore", "--workload", "vgg16", "--pe", "int16", "--model", "cards",
                                            "--models", cards, "--out", tmp_path / "out")
    next(iter(card["targets"].values()))["coef"][0] = "0.5"
    (cards / "int16.json").write_text(json.dumps(card))
    assert ".coef must hold numbers" in refused("predict", "--config", config, "--model", "cards", "--models", cards)


def test_output_folders_under_a_regular_file_are_refused_naming_them(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    config = tmp_path / "c.yaml"
    config.write_text("pe_type: int16\nrows: 2\ncols: 2\nglb_kib: 16\nglb_banks: 4\n")
    assert str(blocker / "out") in refused("generate", "--unit", "mac", "--pe", "int", "--out", blocker / "out")
    assert f"{blocker} is a file, not a folder" in refused("characterize-mac", "--pe", "int", "--runs", blocker / "r")
    assert f"{blocker} is a file, not a folder" in refused("characterize", "--pe", "int", "--unit", "mac",
                                                           "--runs", tmp_path / "runs", "--data", blocker / "d")
    assert f"{blocker} is a file, not a folder" in refused("explore", "--workload", "resnet20", "--pe", "int16",
                                                           "--out", blocker / "x")
    assert f"{blocker} is a file, not a folder" in refused("fit", "--pe", "int16", "--models", blocker / "m")
    assert "exists and is not a folder" in refused("report", "--out", blocker / "r.html")
    assert f"dump folder {blocker / 'd'}: cannot create the folder" in refused(
        "simulate", "--config", REPO / "configs/eyeriss.yaml", "--layer", "resnet20:1", "--dump", blocker / "d",
        "--build", tmp_path / "build")


@pytest.mark.parametrize("args, message", [
    (["characterize-mac", "--pe", "int", "--seed", "-1"], "'--seed': -1 is not in the range"),
    (["characterize-mac", "--pe", "int", "--ops", 10**12], "'--ops': 1000000000000 is not in the range"),
    (["characterize-mac", "--pe", "int", "--ops", "10^12"], "'--ops': '10^12' is not a valid integer"),
    (["characterize-mac", "--pe", "int", "--clock-mhz", "nan"], "'nan' is not a finite number"),
    (["explore", "--workload", "vgg16", "--dram-pj-per-bit", "nan"], "'nan' is not a finite number"),
    (["explore", "--workload", "vgg16", "--dram-pj-per-bit", "inf"], "'--dram-pj-per-bit': inf is not in the range"),
    (["explore", "--workload", "vgg16", "--models", "models/cards"], "names a folder of model cards: add --model cards"),
    (["characterize", "--pe", "int", "--worker-timeout", "nan"], "'nan' is not a finite number"),
    (["characterize", "--pe", "int", "--worker-timeout", "0"], "'--worker-timeout': 0.0 is not in the range"),
    (["simulate", "--config", "configs/eyeriss.yaml", "--layer", "resnet20:1", "--seed", "-1"],
     "'--seed': -1 is not in the range"),
    (["simulate", "--config", "configs/eyeriss.yaml", "--layer", "resnet20:1", "--channels-scale", "nan"],
     "'nan' is not a finite number"),
    (["simulate", "--config", "configs/eyeriss.yaml", "--layer", "resnet20:" + "9" * 5000],
     "has layers 0..21, not 999999999999... (5000 digits)"),
    (["generate", "--config", "configs/eyeriss.yaml", "--memory", "", "--out", "build/never"],
     "memory: must be one of behavioural, macro, not ''"),
    (["generate", "--unit", "", "--out", "build/never"], "unit: must be one of mac, accelerator, not ''"),
])
def test_bad_arguments_are_refused_in_one_line(args, message):
    assert message in refused(*args)


def test_a_model_card_of_another_pe_type_is_refused(tmp_path):
    cards = tmp_path / "cards"
    cards.mkdir()
    card = json.loads((REPO / "models/cards/int16.json").read_text())
    (cards / "int16.json").write_text(json.dumps({**card, "pe_type": "fp32"}))
    message = f"model card {cards / 'int16.json'} is of pe_type 'fp32', not 'int16'"
    assert message in refused("predict", "--config", REPO / "configs/eyeriss.yaml", "--model", "cards",
                              "--models", cards)
    assert message in refused("explore", "--workload", "resnet20", "--pe", "int16", "--model", "cards",
                              "--models", cards, "--out", tmp_path / "out")


@pytest.mark.parametrize("text, message", [
    ("description: {a: 1}\ngrid: {rows: [2]}\n", "description: must be free text, not a dict"),
    ("description: " + "x" * 501 + "\ngrid: {rows: [2]}\n", "description: must be at most 500 characters"),
])
def test_a_description_that_is_not_short_text_is_refused(tmp_path, text, message):
    path = tmp_path / "file.yaml"
    path.write_text(text)
    assert message in refused("characterize", "--pe", "int", "--unit", "mac", "--sweep", path,
                              "--runs", tmp_path / "runs")
    assert message in refused("explore", "--workload", "resnet20", "--space", path, "--out", tmp_path / "out")
    assert not (tmp_path / "runs").exists() and not (tmp_path / "out").exists()


# Property-based: generated hostile inputs (Hypothesis). 130 + 70 + 50 + 100 = 350 per run.

_SCALARS = st.one_of(
    st.sampled_from([".nan", ".inf", "-.inf", "NaN", "1.0e999", "null", "~", "true", "no", "0x1F", "0o17", "1_000",
                     "2020-13-45", "2001-12-14t21:59:43.10-05:00", "'x'", '"\\u0000"', "!!binary aGVsbG8=",
                     "!!python/object:os.system", "!!set {a}", "[", "]", "{", "}", "*a", "&a 1", "|", ">", "@", "`",
                     "%", "---", "...", "? [a]", "int16", "fp32", "!!float x", "!!int 1.5", "''", "- -"]),
    st.integers(-10**40, 10**40).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(1, 6000).map(lambda n: "9" * n),
    st.text(max_size=20).map(json.dumps),
)
_KEYS = st.one_of(st.sampled_from(FIELD_NAMES + ["base", "grid", "pe_types", "dataset", "description"]),
                  st.text(max_size=8).map(json.dumps), st.sampled_from(["? [a, b]", "[1]", "{a: 1}", ".nan", "1"]))
_VALUES = st.recursive(_SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4).map(lambda items: "[" + ", ".join(items) + "]"),
    st.lists(st.tuples(_KEYS, inner), max_size=4).map(
        lambda pairs: "{" + ", ".join(f"{k}: {v}" for k, v in pairs) + "}")), max_leaves=12)
_MAPPING = st.lists(st.tuples(_KEYS, _VALUES), max_size=6).map(lambda pairs: "".join(f"{k}: {v}\n" for k, v in pairs))


@st.composite
def _file_bytes(draw, body=_MAPPING):
    """YAML text, then maybe mangled: another encoding, a NUL, truncated, a key repeated, nested deep."""
    text = draw(body)
    mangle = draw(st.sampled_from(["none", "utf-16", "latin-1", "nul", "truncate", "repeat", "deep", "bom", "raw"]))
    if mangle == "utf-16":
        return text.encode("utf-16")
    if mangle == "latin-1":
        return (text + "# \u00e9\n").encode("latin-1", errors="replace")
    if mangle == "nul":
        return text.encode() + b"\x00"
    if mangle == "truncate":
        return text.encode()[:draw(st.integers(0, max(0, len(text.encode()))))]
    if mangle == "repeat":
        return (text * draw(st.integers(2, 5))).encode()
    if mangle == "deep":
        depth = draw(st.integers(20, 400))
        return f"rows: {'[' * depth}{']' * depth}\n".encode()
    if mangle == "bom":
        return b"\xef\xbb\xbf" + text.encode()
    if mangle == "raw":
        return draw(st.binary(max_size=200))
    return text.encode()


def _hostile(examples: int) -> settings:
    return settings(max_examples=examples, deadline=None, database=None, suppress_health_check=list(HealthCheck))


def _one_line_or_valid(code: int, out: str, err: str) -> None:
    assert "Traceback" not in err
    assert code in (0, 2), (code, out, err)
    if code == 2:
        assert out == "" and len(err.splitlines()) == 1 and err.startswith("error: "), (out, err)
    else:
        assert err == "" and len(out.splitlines()) == 1 and ": valid (" in out


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile")
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@_hostile(130)
@given(content=_file_bytes())
def test_generated_configuration_files(scratch, content):
    path = scratch / "config.yaml"
    path.write_bytes(content)
    _one_line_or_valid(*run_cli("config", "validate", path))


def _loaded_or_refused(load, command, path: Path) -> None:
    """The loader accepts the file, or refuses it with one line, and so does the command line, at once."""
    try:
        load(path)
    except QuidamError as error:
        assert "\n" not in str(error)
        line = refused(*command)
        assert line == f"error: {' '.join(str(error).split())}"


@_hostile(70)
@given(content=_file_bytes(st.tuples(_MAPPING, _MAPPING).map(
    lambda parts: "base:\n" + "".join(f"  {line}\n" for line in parts[0].splitlines())
    + "grid:\n" + "".join(f"  {line}\n" for line in parts[1].splitlines()))))
def test_generated_sweep_files(scratch, content):
    path = scratch / "sweep.yaml"
    path.write_bytes(content)
    _loaded_or_refused(lambda p: load_sweep(p, "int"),
                       ["characterize", "--pe", "int", "--unit", "mac", "--sweep", path, "--runs", scratch / "runs"],
                       path)
    assert not (scratch / "runs").exists()


@_hostile(50)
@given(content=_file_bytes(st.tuples(st.lists(st.sampled_from([*PE_TYPES, "int9", "5", "[]"]), max_size=3),
                                     _MAPPING).map(
    lambda parts: f"pe_types: [{', '.join(parts[0])}]\ngrid:\n"
    + "".join(f"  {line}\n" for line in parts[1].splitlines()))))
def test_generated_space_files(scratch, content):
    path = scratch / "space.yaml"
    path.write_bytes(content)
    _loaded_or_refused(load_space, ["explore", "--workload", "vgg16", "--space", path, "--out", scratch / "out"],
                       path)


def _not_a_number(text: str) -> bool:
    try:
        return not math.isfinite(float(text))
    except ValueError:
        return True


_BAD_NUMBERS = st.one_of(st.sampled_from(["nan", "-nan", "inf", "-inf", "1e999", "", " ", "10^12", "0x10", "1,5",
                                          "--", "-"]),
                         st.integers(7, 5000).map(lambda n: "9" * n), st.text(max_size=10).filter(_not_a_number))
_COMMANDS = st.one_of(
    st.one_of(st.integers(max_value=-1), st.integers(min_value=2**32)).map(
        lambda v: ["characterize-mac", "--pe", "int", "--seed", v]),
    st.one_of(st.integers(max_value=1), st.integers(min_value=1_000_001)).map(
        lambda v: ["characterize-mac", "--pe", "int", "--ops", v]),
    st.one_of(st.floats(max_value=9.99), st.floats(min_value=2000.01), _BAD_NUMBERS).map(
        lambda v: ["characterize-mac", "--pe", "int", "--clock-mhz", v]),
    st.one_of(st.floats(max_value=-1e-9), st.floats(min_value=1e6 + 1), _BAD_NUMBERS).map(
        lambda v: ["explore", "--workload", "vgg16", "--dram-pj-per-bit", v]),
    st.text(max_size=12).filter(lambda v: v not in PE_TYPES).map(lambda v: ["characterize", "--pe", v]),
    st.text(max_size=12).map(lambda v: ["explore", "--workload", f"x{v}"]),
    st.text(min_size=1, max_size=12).filter(lambda v: not v.startswith("-")).map(lambda v: [f"{v}z"]),
    _BAD_NUMBERS.map(lambda v: ["characterize", "--pe", "int", "--worker-timeout", v]),
)


@_hostile(100)
@given(args=_COMMANDS)
def test_generated_command_lines(args):
    code, out, err = run_cli(*args)
    assert code == 2 and out == "" and "Traceback" not in err, (args, code, out, err)
    assert len(err.splitlines()) == 1 and err.startswith("error: "), err
