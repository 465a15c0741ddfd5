"""The accelerator configuration: defaults, validation messages, YAML round trip, CLI."""

import dataclasses
import random
from pathlib import Path

import pytest
import yaml

from quidam.config import FIELDS, AcceleratorConfig, load_config, parse_config
from quidam.errors import ConfigError
from quidam_cli import quidam

REPO = Path(__file__).resolve().parents[1]
EYERISS = REPO / "configs" / "eyeriss.yaml"


def test_eyeriss_config_matches_the_paper():
    cfg = load_config(EYERISS)
    assert (cfg.pe_type, cfg.rows, cfg.cols) == ("int16", 12, 14)
    assert (cfg.ifmap_spad_depth, cfg.filter_spad_depth, cfg.psum_spad_depth) == (12, 224, 24)
    assert cfg.glb_kib == 108 and cfg.glb_bank_depth == 512
    assert (cfg.act_bits, cfg.wt_bits, cfg.psum_bits) == (16, 16, 32)
    assert cfg.num_pes == 168


def test_defaults_come_from_the_field_table():
    cfg = AcceleratorConfig()
    for rule in FIELDS:
        if rule.default is not None:
            assert getattr(cfg, rule.name) == rule.default, rule.name


@pytest.mark.parametrize("pe_type, widths", [
    ("fp32", (32, 32, 32)), ("int16", (16, 16, 32)),
    ("lightpe1", (8, 4, 24)), ("lightpe2", (8, 8, 24)), ("int", (8, 8, 24)),
])
def test_widths_are_derived_from_pe_type(pe_type, widths):
    cfg = AcceleratorConfig(pe_type=pe_type)
    assert (cfg.act_bits, cfg.wt_bits, cfg.psum_bits) == widths


def test_int_type_takes_its_operand_widths():
    cfg = AcceleratorConfig(pe_type="int", act_bits=4, wt_bits=2)
    assert (cfg.act_bits, cfg.wt_bits, cfg.psum_bits, cfg.product_bits) == (4, 2, 14, 6)


def test_configuration_is_frozen():
    cfg = AcceleratorConfig()
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.rows = 4


def test_replace_revalidates_and_rederives_widths():
    cfg = AcceleratorConfig().replace(pe_type="lightpe1", rows=4)
    assert (cfg.rows, cfg.wt_bits, cfg.psum_bits) == (4, 4, 24)
    with pytest.raises(ConfigError, match="rows"):
        cfg.replace(rows=40)


def _random_valid_config(rng: random.Random) -> AcceleratorConfig:
    pe_type = rng.choice(["fp32", "int16", "lightpe1", "lightpe2", "int"])
    fields = dict(pe_type=pe_type, rows=rng.randint(2, 32), cols=rng.randint(2, 32),
                  ifmap_spad_depth=rng.randint(2, 256), filter_spad_depth=rng.randint(2, 1024),
                  psum_spad_depth=rng.randint(2, 256), glb_banks=rng.choice([1, 2, 4, 8, 16]),
                  glb_kib=rng.choice([16, 32, 64, 128, 256]), glb_word_bits=rng.choice([64, 128]),
                  dram_bytes_per_cycle=rng.randint(1, 64), clock_mhz=rng.choice([100, 250.5, 1000]))
    if pe_type == "int":
        fields.update(act_bits=rng.randint(2, 16), wt_bits=rng.randint(2, 16))
    return AcceleratorConfig(**fields)


def test_yaml_round_trip_is_lossless(tmp_path):
    rng = random.Random(7)
    for i in range(200):
        cfg = _random_valid_config(rng)
        path = tmp_path / f"c{i}.yaml"
        path.write_text(cfg.to_yaml())
        again = load_config(path)
        assert again == cfg
        assert again.config_hash == cfg.config_hash


def test_config_hash_changes_with_any_field():
    base = AcceleratorConfig()
    assert base.replace(cols=13).config_hash != base.config_hash
    assert base.replace(clock_mhz=201).config_hash != base.config_hash


def test_empty_file_gives_defaults(tmp_path):
    path = tmp_path / "empty.yaml"
    path.write_text("# nothing set\n")
    assert load_config(path) == AcceleratorConfig()


@pytest.mark.parametrize("data, fragments", [
    ({"rows": 0}, ["rows", "2..32", "0"]),
    ({"cols": 33}, ["cols", "2..32", "33"]),
    ({"rows": "12"}, ["rows", "an integer", "'12'"]),
    ({"rows": True}, ["rows", "an integer", "True"]),
    ({"rows": 12.5}, ["rows", "12.5"]),
    ({"pe_type": "int8"}, ["pe_type", "fp32, int16, lightpe1, lightpe2, int", "'int8'"]),
    ({"glb_word_bits": 48}, ["glb_word_bits", "16, 32, 64, 128", "48"]),
    ({"clock_mhz": 0}, ["clock_mhz", "10..2000", "0"]),
    ({"rowz": 3}, ["unknown field 'rowz'", "did you mean rows", "allowed fields"]),
    ({"pe_type": "int16", "act_bits": 8}, ["act_bits", "int16", "only pe_type int"]),
    ({"pe_type": "fp32", "psum_bits": 24}, ["psum_bits", "fp32", "32", "24"]),
    ({"pe_type": "int", "act_bits": 16, "wt_bits": 16, "psum_bits": 24}, ["psum_bits", "32-bit product", "24"]),
    ({"glb_kib": 100, "glb_banks": 3}, ["glb_banks", "100 KiB", "3 banks"]),
    ({"pe_type": "fp32", "glb_word_bits": 16}, ["glb_word_bits", "32 bits", "16"]),
])
def test_invalid_values_name_field_value_and_allowed(data, fragments):
    with pytest.raises(ConfigError) as info:
        parse_config(data, source="x.yaml")
    message = str(info.value)
    assert message.startswith("x.yaml: ")
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message


def test_top_level_must_be_a_mapping():
    with pytest.raises(ConfigError, match="must be a mapping"):
        parse_config([1, 2])


def test_python_construction_is_validated_too():
    with pytest.raises(ConfigError, match="psum_spad_depth: must be an integer in 2..256, not 0"):
        AcceleratorConfig(psum_spad_depth=0)


def test_malformed_yaml_names_the_position(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("rows: [1\ncols: 2\n")
    with pytest.raises(ConfigError, match=r"bad.yaml: malformed YAML at line 2"):
        load_config(path)


def test_unsafe_yaml_tags_are_rejected(tmp_path):
    path = tmp_path / "evil.yaml"
    path.write_text("rows: !!python/object/apply:os.system ['true']\n")
    with pytest.raises(ConfigError, match="malformed YAML"):
        load_config(path)


def test_cli_validate_accepts_eyeriss():
    done = quidam("config", "validate", str(EYERISS))
    assert done.returncode == 0, done.stderr
    assert "valid" in done.stdout


@pytest.mark.parametrize("text, fragment", [
    ("rows: 0\n", "rows: must be an integer in 2..32, not 0"),
    ("pe_type: int16\nrowz: 4\n", "unknown field 'rowz'"),
    ("rows: [1\ncols: 2\n", "malformed YAML"),
])
def test_cli_rejects_bad_configs_with_one_line(tmp_path, text, fragment):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    done = quidam("config", "validate", str(path))
    assert done.returncode == 2
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and fragment in lines[0] and str(path) in lines[0]
    assert "Traceback" not in done.stderr


def test_cli_show_prints_resolved_yaml(tmp_path):
    path = tmp_path / "lp.yaml"
    path.write_text("pe_type: lightpe2\nrows: 4\ncols: 6\n")
    done = quidam("config", "show", str(path))
    assert done.returncode == 0, done.stderr
    shown = yaml.safe_load(done.stdout)
    assert shown == AcceleratorConfig(pe_type="lightpe2", rows=4, cols=6).to_dict()
    assert list(shown) == [rule.name for rule in FIELDS]


def test_cli_fields_table_is_the_one_in_the_readme():
    done = quidam("config", "fields")
    assert done.returncode == 0
    for rule in FIELDS:
        assert f"| `{rule.name}` |" in done.stdout
    assert done.stdout in (REPO / "README.md").read_text(), "README's field table is stale: paste `quidam config fields`"


def test_cli_version_and_help():
    from quidam import __version__

    assert quidam("--version").stdout.strip() == f"quidam, version {__version__}"
    help_text = quidam("--help").stdout
    assert "config" in help_text
