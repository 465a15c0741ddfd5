"""PPA models: selection by cross-validation, JSON cards that predict exactly, warnings, the commands.

The synthetic datasets here are written from closed-form functions of the
configuration fields (not of the model's features), so a model that fits them
exactly has found the structure, and one that does not fails.
"""

import csv
import itertools
import json
from pathlib import Path

import numpy as np
import pytest

from quidam.characterize.dataset import CONFIG_COLUMNS
from quidam.cli import main
from quidam.config import load_config, parse_config
from quidam.models.card import BLOCK_TOTALS, FMAX, TOTAL_AREA, ModelCard, card_path
from quidam.models.features import FEATURES, feature_matrix, feature_table, macro_inventory, offsets
from quidam.models.composed import ComposedModel, compare_dataset
from quidam.models.fit import fit_card, load_dataset
from quidam.models.predict import predict
from quidam.models.report import ACCEPTANCE, validate

DATA = Path(__file__).resolve().parents[1] / "data" / "characterization"
CARDS = Path(__file__).resolve().parents[1] / "models" / "cards"


def _truth(config):
    """Closed-form 'measurements' of a configuration (area linear in the parts, power with a quadratic term)."""
    pes = config.rows * config.cols
    area = 5000.0 + 900.0 * pes + 40.0 * pes * config.ifmap_spad_depth + 35.0 * pes * config.psum_spad_depth \
        + 4300.0 * config.glb_kib + 120.0 * (config.rows + config.cols)
    return {"synth__area__total_um2": area,
            "power__total__dynamic_w": 1e-3 + 2e-4 * pes + 3e-5 * pes ** 2 + 5e-5 * config.glb_kib,
            "power__total__leakage_w": 1e-4 + 2e-7 * area,
            "sta__timing__critical_path_ns": 3.0 + 0.1 * config.glb_kib,
            "energy__mac_op_j": 1.5e-12}


def _configs(pe_type="lightpe1", rows=(2, 3, 4), cols=(2, 3), ifmap=(12, 24), psum=(16, 32), glb=(16, 32)):
    for r, c, i, p, g in itertools.product(rows, cols, ifmap, psum, glb):
        yield parse_config({"pe_type": pe_type, "rows": r, "cols": c, "ifmap_spad_depth": i, "psum_spad_depth": p,
                            "glb_kib": g, "glb_banks": 4, "filter_spad_depth": 32})


def _write_dataset(path, configs):
    configs = list(configs)
    columns = [*CONFIG_COLUMNS, *_truth(configs[0]), "design_id"]
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        for index, config in enumerate(configs):
            writer.writerow({**config.to_dict(), **{k: repr(v) for k, v in _truth(config).items()},
                             "design_id": f"{index:016x}"})
    return path


def test_selection_finds_the_structure_and_cards_predict_exactly(tmp_path):
    dataset = load_dataset(_write_dataset(tmp_path / "lightpe1.csv", _configs()))
    card, cv = fit_card(dataset)
    # Constant fields say nothing and are left out; so is pe_product_bits (32 x pes for lightpe1).
    assert card.feature_names == ["pes", "rows", "cols", "pe_ifmap_words", "pe_psum_words", "glb_kib"]
    assert card.field_ranges["rows"] == [2, 4] and card.field_ranges["filter_spad_depth"] == [32, 32]
    area = card.targets["synth__area__total_um2"]
    assert area.degree == 1 and area.cv_mape < 1e-5
    assert card.targets["power__total__dynamic_w"].degree == 2  # the pes^2 term needs degree 2
    assert card.targets["power__total__dynamic_w"].cv_mape < 1e-4
    assert card.derived[FMAX]["cv_mape"] < 1e-5 and set(cv) == {*dataset.targets, FMAX}

    card.save(tmp_path / "card.json")
    loaded = ModelCard.load(tmp_path / "card.json")
    unseen = list(_configs(rows=(3,), cols=(2,), ifmap=(18,), psum=(24,), glb=(16, 32)))
    inputs = feature_matrix(unseen, loaded.feature_names)
    for name in card.targets:
        assert np.array_equal(loaded.pipeline(name).predict(inputs), card.pipeline(name).predict(inputs)), name
    figures = predict(loaded, unseen[0], root=tmp_path).figures
    expected = _truth(unseen[0])
    for name, value in expected.items():
        # Degree 1 is exact; degree 2 over two levels of ifmap depth may bend between them.
        tolerance = 1e-4 if card.targets[name].degree == 1 else 1e-2
        assert figures[name].value == pytest.approx(value, rel=tolerance), name
    assert figures[FMAX].value == pytest.approx(1000.0 / expected["sta__timing__critical_path_ns"], rel=1e-5)


def test_warnings_outside_the_fitted_range_and_for_a_stale_card(tmp_path, monkeypatch):
    path = _write_dataset(tmp_path / "data" / "lightpe1.csv", _configs())
    monkeypatch.chdir(tmp_path)
    card, _ = fit_card(load_dataset(Path("data/lightpe1.csv")))
    inside = next(_configs(rows=(3,)))
    assert predict(card, inside).warnings == []
    outside = predict(card, inside.replace(rows=8, filter_spad_depth=64)).warnings
    assert len(outside) == 1 and "rows 8 (fitted 2..4)" in outside[0] and "filter_spad_depth 64 (fitted 32..32)" \
        in outside[0]
    path.write_text(path.read_text().replace("5000", "5001", 1) + "\n")
    assert any("data/lightpe1.csv changed since the fit" in warning for warning in predict(card, inside).warnings)
    card.provenance["generator_sha256"] = "0" * 64
    assert any("RTL generator" in warning for warning in predict(card, inside).warnings)
    with pytest.raises(ValueError, match="pe_type lightpe1"):
        predict(card, inside.replace(pe_type="int16", act_bits=16, wt_bits=16, psum_bits=32))


def test_validation_scores_held_out_points(tmp_path):
    card, _ = fit_card(load_dataset(_write_dataset(tmp_path / "lightpe1.csv", _configs())))
    heldout = load_dataset(_write_dataset(tmp_path / "lightpe1-heldout.csv", _configs(rows=(3,), ifmap=(18,))))
    validation = validate(card, heldout)
    assert validation.points == 8
    for target in ("synth__area__total_um2", FMAX):
        assert validation.mape(target) < 1e-4 and validation.r2(target) > 0.9999
    assert validation.mape("power__total__dynamic_w") < 1e-2  # degree 2 between two ifmap depths
    # A card that is wrong must score badly: shift the area model by 10 % of the mean area.
    card.targets["synth__area__total_um2"].intercept += 0.1 * heldout.targets["synth__area__total_um2"].mean()
    assert validate(card, heldout).mape("synth__area__total_um2") > 0.05


def test_fit_and_predict_commands(tmp_path, capsys):
    data, models, report = tmp_path / "data", tmp_path / "cards", tmp_path / "report"
    _write_dataset(data / "lightpe1.csv", _configs())
    _write_dataset(data / "lightpe1-heldout.csv", _configs(rows=(3,), ifmap=(18,), glb=(16,)))
    main(["fit", "--data", str(data), "--models", str(models), "--report", str(report)])
    out = capsys.readouterr().out
    assert "lightpe1: 5 targets fitted on 48 points" in out and "held-out MAPE total area 0.00 %" in out
    assert (report / "accuracy.png").stat().st_size > 10_000
    text = (report / "README.md").read_text()
    assert "| lightpe1 | total area | 48 |" in text and "3 % ok" in text

    config = tmp_path / "point.yaml"
    config.write_text("pe_type: lightpe1\nrows: 3\ncols: 2\nifmap_spad_depth: 18\npsum_spad_depth: 16\n"
                      "filter_spad_depth: 32\nglb_kib: 16\nglb_banks: 4\n")
    main(["predict", "--config", str(config), "--model", "cards", "--models", str(models), "--json"])
    captured = capsys.readouterr()
    result = json.loads(captured.out)
    truth = _truth(parse_config({"pe_type": "lightpe1", "rows": 3, "cols": 2, "ifmap_spad_depth": 18,
                                 "psum_spad_depth": 16, "filter_spad_depth": 32, "glb_kib": 16, "glb_banks": 4}))
    area = result["figures"]["synth__area__total_um2"]
    assert area["value"] == pytest.approx(truth["synth__area__total_um2"], rel=1e-5) and area["unit"] == "um^2"
    assert result["warnings"] == [] and captured.err == ""

    config.write_text(config.read_text().replace("rows: 3", "rows: 6"))
    main(["predict", "--config", str(config), "--model", "cards", "--models", str(models)])
    captured = capsys.readouterr()
    assert "warning: outside the fitted ranges" in captured.err and "rows 6 (fitted 2..4)" in captured.err
    assert "total area" in captured.out and "% (CV)" in captured.out


def test_predict_composes_the_characterized_blocks_by_default(capsys):
    """Without ``--model cards`` a configuration's figures are its block composition's, Eyeriss's included."""
    config = Path(__file__).resolve().parents[1] / "configs" / "eyeriss.yaml"
    main(["predict", "--config", str(config), "--json"])
    printed = json.loads(capsys.readouterr().out)
    composition = ComposedModel().compose(load_config(config))
    assert printed == json.loads(json.dumps(composition.to_dict()))
    assert printed["fmax_mhz"] > 100 and printed["critical_block"] in {"pe", "glb", "controller", "boundary"}
    main(["predict", "--config", str(config)])
    out = capsys.readouterr().out
    assert "(composed from blocks)" in out and f"{composition.fmax_mhz:.4g} MHz" in out


@pytest.mark.parametrize("argv, message", [
    (["predict", "--config", "{config}", "--model", "cards", "--models", "{tmp}/none"], "no model card"),
    (["predict", "--config", "{config}", "--models", "{tmp}"], "add --model cards"),
    (["fit", "--data", "{tmp}/empty"], "no dataset in"),
    (["fit", "--pe", "int17", "--data", "{tmp}"], "'int17' is not a PE type"),
])
def test_bad_input_exits_2_with_a_message(tmp_path, capsys, argv, message):
    config = tmp_path / "c.yaml"
    config.write_text("pe_type: lightpe1\nrows: 2\ncols: 2\nglb_kib: 16\nglb_banks: 4\n")
    (tmp_path / "empty").mkdir()
    argv = [arg.format(config=config, tmp=tmp_path) for arg in argv]
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2 and message in capsys.readouterr().err


def test_readme_lists_the_features():
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    assert feature_table() in readme, "README's feature table is stale: paste models.features.feature_table()"


def test_feature_transforms_are_what_they_say():
    config = parse_config({"pe_type": "int", "act_bits": 4, "wt_bits": 8, "rows": 3, "cols": 5,
                           "ifmap_spad_depth": 12, "filter_spad_depth": 48, "psum_spad_depth": 24,
                           "glb_kib": 27, "glb_banks": 27})
    values = dict(zip([f.name for f in FEATURES], feature_matrix([config], [f.name for f in FEATURES])[0]))
    assert values == {"pes": 15, "rows": 3, "cols": 5, "pe_ifmap_words": 180, "pe_filter_flop_words": 720,
                      "pe_filter_macros": 0, "pe_psum_words": 360, "glb_kib": 27, "glb_banks": 27, "act_bits": 4,
                      "wt_bits": 8, "pe_product_bits": 480, "clock_mhz": 200}
    # 64 entries and more: one fakeram45 macro per PE (64x8 rounds up to fakeram45_64x15), no flip-flop words.
    macro = config.replace(filter_spad_depth=64)
    values = dict(zip([f.name for f in FEATURES], feature_matrix([macro], [f.name for f in FEATURES])[0]))
    assert values["pe_filter_flop_words"] == 0 and values["pe_filter_macros"] == 15
    inventory = macro_inventory(macro)
    assert inventory.filter_spad[0].name == "fakeram45_64x15" and inventory.filter_spad[1] == 15
    assert inventory.glb[0].name == "fakeram45_128x64" and inventory.glb[1] == 27  # 27 banks of 128 x 64 bits
    assert inventory.area_um2() == pytest.approx(15 * 659.148 + 27 * 5479.6)


@pytest.mark.parametrize("pe_type", ["lightpe1", "int16"])
def test_macro_parts_are_what_synthesis_counted(pe_type):
    """The exact macro part of the area targets equals the macro area of every committed point."""
    path = DATA / f"{pe_type}.csv"
    if not path.is_file():
        pytest.skip(f"{path} is not committed")
    dataset = load_dataset(path)
    assert np.allclose(offsets(dataset.configs, "synth__area__macro_um2"), dataset.targets["synth__area__macro_um2"],
                       rtol=1e-9)
    below = dataset.targets["synth__area__block__filter_spad_um2"] - offsets(
        dataset.configs, "synth__area__block__filter_spad_um2")
    assert (below > 0).all()  # the macro is part of its block, never more than it


@pytest.mark.parametrize("pe_type", ["lightpe1", "lightpe2", "int16", "fp32"])
def test_committed_cards_are_fitted_on_the_committed_datasets(pe_type, tmp_path):
    path = card_path(CARDS, pe_type)
    if not path.is_file():
        pytest.skip(f"{path} is not committed yet (make models writes it)")
    card = ModelCard.load(path)
    dataset = load_dataset(DATA / f"{pe_type}.csv")
    assert card.provenance["dataset_sha256"] == dataset.sha256, "refit: make models"
    refitted, _ = fit_card(dataset)
    inputs = feature_matrix(dataset.configs, card.feature_names)
    for name in card.targets:
        assert np.allclose(card.pipeline(name).predict(inputs), refitted.pipeline(name).predict(inputs),
                           rtol=1e-9, atol=0), name
    heldout = DATA / f"{pe_type}-heldout.csv"
    if heldout.is_file():
        validation = validate(card, load_dataset(heldout))
        for target, limit in ACCEPTANCE.items():
            assert validation.mape(target) <= limit, target


def test_totals_are_the_sums_of_the_block_models(tmp_path):
    dataset = load_dataset(DATA / "lightpe1.csv")
    card, cv = fit_card(dataset)
    predicted = card.predict(dataset.configs)
    card.save(tmp_path / "card.json")
    loaded = ModelCard.load(tmp_path / "card.json").predict(dataset.configs)
    for total, (prefix, suffix) in BLOCK_TOTALS.items():
        blocks = [name for name in dataset.targets if name.startswith(prefix) and name.endswith(suffix)]
        assert len(blocks) >= 8 and total not in card.targets and sorted(card.sums[total]) == sorted(blocks)
        # The blocks add up to the measured total, so the sum of their models predicts it.
        assert np.allclose(sum(dataset.targets[name] for name in blocks), dataset.targets[total], rtol=1e-6)
        assert np.array_equal(predicted[total], sum(predicted[name] for name in blocks))
        assert np.array_equal(cv[total], sum(cv[name] for name in blocks))
        assert card.cv_mape(total) == card.derived[total]["cv_mape"]
        assert np.array_equal(loaded[total], predicted[total])
    assert card.cv_mape(TOTAL_AREA) < 0.03


def test_the_fit_report_compares_the_composed_blocks_with_every_whole_point(tmp_path, capsys):
    main(["fit", "--pe", "lightpe1", "--models", str(tmp_path / "cards"), "--report", str(tmp_path / "report")])
    text = (tmp_path / "report" / "README.md").read_text()
    rows = [line for line in text.split("## Composed block model against whole accelerators")[1].splitlines()
            if line.startswith("| lightpe1 |")]
    model = ComposedModel()
    expected = []
    for name, label in (("lightpe1", "default"), ("lightpe1-heldout", "held-out"), ("lightpe1-scale", "scale")):
        dataset = load_dataset(Path("data/characterization") / f"{name}.csv")
        expected += [(label, figures) for figures, _ in compare_dataset(model, dataset.configs, dataset.targets)]
    assert len(rows) == len(expected) >= 13
    for row, (label, figures) in zip(rows, expected):
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        assert cells[1] == label
        assert cells[3].startswith(f"{100 * figures['area'][2]:+.1f} %")
        assert cells[6].startswith(f"{100 * figures['dynamic_energy'][2]:+.1f} %")
