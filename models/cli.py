"""The model commands.

* ``quidam fit [--pe TYPE ...]``: fit the model cards of the PE types whose
  dataset exists (:func:`~quidam.models.fit.fit_card`), validate them on the
  held-out points, write the accuracy report (:mod:`~quidam.models.report`).
* ``quidam predict --config FILE [--json] [--model composed|cards]``: the figures of one configuration,
  composed from the characterized blocks (:mod:`~quidam.models.composed`) or, with ``--model cards``, from
  its PE type's model card (:func:`~quidam.models.predict.predict`).
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from quidam.characterize.dataset import DATA_DIR, dataset_path
from quidam.config import PE_TYPES, SEED_PE_TYPES, load_config, pe_format_label
from quidam.dse.explore import DRAM_PJ_PER_BIT
from quidam.errors import ConfigError
from quidam.inputs import FiniteFloat, output_dir

from .card import CARDS_DIR, CRITICAL_PATH, FMAX, ModelCard, card_path
from .fit import fit_card, load_dataset
from .predict import predict
from .report import ACCEPTANCE, HEADLINE, validate, write_report

__all__ = ["fit", "predict_command"]

_REPORT = Path("reports/models")


@click.command("fit")
@click.option("--pe", "pe_types", metavar="TYPE", multiple=True,
              help=f"PE type to fit (repeatable; default: each of {', '.join(PE_TYPES)} whose dataset exists).")
@click.option("--data", "data_dir", type=click.Path(file_okay=False, path_type=Path), default=DATA_DIR,
              show_default=True, help="Folder of the datasets (<pe>.csv, held-out points <pe>-heldout.csv).")
@click.option("--models", "models_dir", type=click.Path(file_okay=False, path_type=Path), default=CARDS_DIR,
              show_default=True, help="Folder of the model cards (<pe>.json).")
@click.option("--report", "report_dir", type=click.Path(file_okay=False, path_type=Path), default=_REPORT,
              show_default=True, help="Folder of the accuracy report (README.md, accuracy.png).")
def fit(pe_types, data_dir, models_dir, report_dir):
    """Fit the PPA models of each PE type to its dataset and validate them on its held-out points.

    Writes MODELS/<pe>.json (a model card per PE type) and REPORT/README.md
    with REPORT/accuracy.png. Exit status 2 when a dataset is missing or
    unusable.

    \b
    Example: quidam fit --pe lightpe1
    """
    for pe_type in pe_types:
        if pe_type not in PE_TYPES:
            raise click.BadParameter(f"{pe_type!r} is not a PE type; allowed: {', '.join(PE_TYPES)}",
                                     param_hint="--pe")
    command = "quidam fit" + "".join(f" --pe {pe}" for pe in pe_types)
    if not pe_types:
        pe_types = tuple(pe for pe in PE_TYPES if dataset_path(data_dir, pe).exists())
        if not pe_types:
            raise click.UsageError(f"no dataset in {data_dir} (expected <pe>.csv for one of "
                                   f"{', '.join(PE_TYPES)}): run `make characterize PE=<type>` first")
    # Every input is read, and every output folder made, before the first line is printed.
    datasets = {pe_type: load_dataset(dataset_path(data_dir, pe_type)) for pe_type in pe_types}
    heldouts = {pe_type: load_dataset(dataset_path(data_dir, f"{pe_type}-heldout")) for pe_type in pe_types
                if dataset_path(data_dir, f"{pe_type}-heldout").exists()}
    output_dir(models_dir, "model card folder")
    output_dir(report_dir, "report folder")
    cards, fitted, cv_predictions, validations = [], {}, {}, {}
    for pe_type, dataset in datasets.items():
        card, predictions = fit_card(dataset)
        card.save(card_path(models_dir, pe_type))
        cards.append(card)
        fitted[pe_type], cv_predictions[pe_type] = dataset, predictions
        held = ""
        if pe_type in heldouts:
            validation = validations[pe_type] = validate(card, heldouts[pe_type])
            held = "; held-out MAPE " + ", ".join(f"{label.split(' (')[0]} {100 * validation.mape(target):.2f} %"
                                                  for target, label, _ in HEADLINE)
        cv = ", ".join(f"{label.split(' (')[0]} {100 * card.cv_mape(target):.2f} %" for target, label, _ in HEADLINE)
        click.echo(f"{pe_type}: {len(card.targets)} targets fitted on {len(dataset.configs)} points -> "
                   f"{card_path(models_dir, pe_type)}; CV MAPE {cv}{held}")
    missing = [pe for pe in SEED_PE_TYPES if pe in pe_types and pe not in validations]
    if missing:
        click.echo(f"no held-out points for {', '.join(missing)}: run `quidam characterize --pe <type> "
                   f"--sweep heldout` to validate them")
    report = write_report(cards, fitted, cv_predictions, validations, report_dir, command=command,
                          extra=_composed_section(data_dir, datasets, heldouts))
    click.echo(f"report {report}")
    exceeded = [f"{pe} {target} {100 * validation.mape(target):.2f} % > {100 * limit:.0f} %"
                for pe, validation in validations.items() for target, limit in ACCEPTANCE.items()
                if validation.mape(target) > limit]
    if exceeded:
        click.echo("held-out error above its limit: " + "; ".join(exceeded))


#: Figures printed by ``quidam predict`` without ``--json``: column, label, unit, scale.
_SHOWN = (("synth__area__total_um2", "total area", "mm^2", 1e-6),
          ("synth__area__stdcell_um2", "  standard cells", "mm^2", 1e-6),
          ("synth__area__macro_um2", "  SRAM macros", "mm^2", 1e-6),
          ("power__total__dynamic_w", "dynamic power", "mW", 1e3),
          ("power__total__leakage_w", "leakage power", "mW", 1e3),
          (CRITICAL_PATH, "critical path", "ns", 1.0),
          (FMAX, "fmax", "MHz", 1.0))


@click.command("predict")
@click.option("--config", "config_file", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Accelerator configuration (YAML).")
@click.option("--json", "as_json", is_flag=True, help="Print every figure as JSON.")
@click.option("--model", type=click.Choice(("composed", "cards")), default="composed", show_default=True,
              help="Compose the figures from the characterized blocks (data/characterization/blocks, "
              "models/composed.py), as the exploration does, or read the PE type's model card (fitted on whole "
              "accelerators of 2 x 2 to 3 x 3 PEs).")
@click.option("--models", "models_dir", type=click.Path(file_okay=False, path_type=Path),
              help=f"Folder of the model cards, with --model cards (default: {CARDS_DIR}).")
def predict_command(config_file, as_json, model, models_dir):
    """Predict area, power, fmax and per-action energies of one configuration.

    By default from its characterized blocks (each block's area, leakage,
    critical path, idle and per-action energies); with ``--model cards``
    from its PE type's model card, each figure with its model's
    cross-validated error. Warnings (on standard error) when a block
    parameter, or the configuration, lies outside the characterized or
    fitted ranges, or the card is stale.

    \b
    Example: quidam predict --config configs/eyeriss.yaml --json
    """
    if models_dir is not None and model != "cards":
        raise ConfigError(f"--models {models_dir} names a folder of model cards: add --model cards (the "
                          f"default, --model {model}, reads the characterized blocks)")
    config = load_config(config_file)
    if model == "composed":
        _predict_composed(config_file, config, as_json)
        return
    models_dir = models_dir or CARDS_DIR
    card = ModelCard.load(card_path(models_dir, config.pe_type), pe_type=config.pe_type)
    prediction = predict(card, config)
    for warning in prediction.warnings:
        click.echo(f"warning: {warning}", err=True)
    if as_json:
        click.echo(json.dumps({"model_card": str(card_path(models_dir, config.pe_type)), **prediction.to_dict()},
                              indent=2))
        return
    click.echo(f"{config_file}: {config.pe_type}, {config.rows}x{config.cols} PEs "
               f"(models {card_path(models_dir, config.pe_type)})")
    figures = prediction.figures
    rows = [(label, figures[name].value * scale, unit, figures[name].cv_mape) for name, label, unit, scale in _SHOWN
            if name in figures]
    rows += [(name.removeprefix("energy__").removesuffix("_j"), figure.value * 1e12, "pJ", figure.cv_mape)
             for name, figure in figures.items() if name.startswith("energy__")]
    for label, value, unit, error in rows:
        click.echo(f"  {label:<26} {value:>12.4g} {unit:<5} +- {100 * error:.1f} % (CV)")


def _composed_section(data_dir: Path, datasets: dict, heldouts: dict) -> list[str]:
    """The report's composed-model section over every whole-accelerator point of the fitted PE types (default,
    held-out and scale datasets); a note instead where the block tables cannot be read."""
    from quidam.errors import QuidamError

    from .composed import ComposedModel, compare_dataset
    from .report import composed_lines

    try:
        model = ComposedModel()
    except QuidamError as error:
        return ["", "## Composed block model against whole accelerators", "", f"Not compared: {error}."]
    comparisons, notes = [], []
    for pe_type, dataset in datasets.items():
        scale = dataset_path(data_dir, f"{pe_type}-scale")
        for label, found in (("default", dataset), ("held-out", heldouts.get(pe_type)),
                             ("scale", load_dataset(scale) if scale.exists() else None)):
            if found is None or not any(row["pe_type"] == pe_type for row in model.tables["pe"]):
                continue
            # A type of free widths is compared per widths: those without block tables are named in a note.
            formats: dict[str, list[int]] = {}
            for index, config in enumerate(found.configs):
                formats.setdefault(pe_format_label(config), []).append(index)
            for pe_format, rows in formats.items():
                configs = [found.configs[index] for index in rows]
                try:
                    compared = compare_dataset(model, configs, {name: [values[index] for index in rows]
                                                                for name, values in found.targets.items()})
                except QuidamError as error:
                    where = f"{found.path}: the {pe_format} rows" if len(formats) > 1 else str(found.path)
                    notes.append(f"Not compared: {where}: {str(error).replace(str(Path.cwd()) + '/', '')}.")
                    continue
                for config, (figures, warnings) in zip(configs, compared):
                    point = (f"{config.rows}x{config.cols}, {config.ifmap_spad_depth}/{config.filter_spad_depth}/"
                             f"{config.psum_spad_depth}, {config.glb_kib} KiB / {config.glb_banks}"
                             + (" (w)" if warnings else ""))
                    comparisons.append((pe_format, label, point, figures))
    return composed_lines(comparisons) + [line for note in notes for line in ("", note)]


def _predict_composed(config_file: Path, config, as_json: bool) -> None:
    """``quidam predict``: the block composition of one configuration."""
    from .composed import ComposedModel

    composition = ComposedModel().compose(config)
    for warning in composition.warnings:
        click.echo(f"warning: {warning}", err=True)
    if as_json:
        click.echo(json.dumps(composition.to_dict(), indent=2))
        return
    click.echo(f"{config_file}: {config.pe_type}, {config.rows}x{config.cols} PEs (composed from blocks)")
    click.echo(f"  {'total area':<26} {composition.total_area_um2 * 1e-6:>12.4g} mm^2")
    for block, area in composition.area_um2.items():
        click.echo(f"    {block:<24} {area * 1e-6:>12.4g} mm^2")
    click.echo(f"  {'leakage power':<26} {composition.total_leakage_w * 1e3:>12.4g} mW")
    click.echo(f"  {'critical path':<26} {composition.critical_path_ns:>12.4g} ns ({composition.critical_block})")
    click.echo(f"  {'fmax':<26} {composition.fmax_mhz:>12.4g} MHz")
    click.echo("  energy of one block (pJ): idle per cycle, the others per action")
    for block, actions in composition.energies.items():
        for action, energy in actions.items():
            click.echo(f"    {block + ' ' + action:<28} {energy * 1e12:>8.4g} pJ")


@click.command("export")
@click.option("--to", "target", required=True, type=click.Choice(["zigzag", "accelergy"]),
              help="zigzag: a ZigZag 3.9 accelerator, mapping and workload of one configuration; accelergy: "
              "one Accelergy library table per block kind.")
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path), help="Output folder.")
@click.option("--config", "config_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Accelerator configuration (YAML; --to zigzag).")
@click.option("--layer", "layer_ref", default="resnet20:1", show_default=True,
              help="The workload layer NET:INDEX (--to zigzag).")
@click.option("--dataset", default=None, help="The layer network's dataset (default: its first).")
@click.option("--dram-pj-per-bit", type=FiniteFloat(min=0, max=1e6), default=DRAM_PJ_PER_BIT,
              show_default=True, help="Off-chip access energy per bit (--to zigzag).")
def export_command(target, out_dir, config_file, layer_ref, dataset, dram_pj_per_bit):
    """Export the characterized blocks for ZigZag or Accelergy (models/export.py).

    \b
    Examples: quidam export --to zigzag --config configs/eyeriss.yaml --out build/zigzag
              quidam export --to accelergy --out build/accelergy
    """
    import csv
    import io

    import yaml

    from quidam.files import write_text
    from quidam.workloads.networks import parse_layer_ref

    from .composed import ComposedModel
    from .export import accelergy_tables, zigzag_accelerator, zigzag_mapping, zigzag_workload

    # Every input is checked, and the folder made, before any block is read or any warning printed.
    if target == "zigzag":
        if config_file is None:
            raise click.UsageError("--to zigzag needs --config FILE")
        config = load_config(config_file)
        _, layer = parse_layer_ref(layer_ref, dataset)
    folder = output_dir(out_dir, "export folder")
    model = ComposedModel()
    if target == "accelergy":
        tables = accelergy_tables(model)
        for kind, (header, rows) in tables.items():
            text = io.StringIO()
            text.write(f"# quidam {kind} block, Nangate45 + fakeram45 (macro figures are CACTI-derived "
                       "estimates); energy pJ per action (idle: per cycle), area um^2\n")
            csv.writer(text, lineterminator="\n").writerows([header, *rows])
            write_text(folder / f"{kind}.csv", text.getvalue())
        click.echo(f"wrote {len(tables)} Accelergy tables to {folder}")
        return
    composition = model.compose(config)
    for warning in composition.warnings:
        click.echo(f"warning: {warning}", err=True)
    for name, content in (("accelerator", zigzag_accelerator(composition, dram_pj_per_bit=dram_pj_per_bit)),
                          ("mapping", zigzag_mapping(layer, config)), ("workload", zigzag_workload(layer, config))):
        write_text(folder / f"{name}.yaml", yaml.safe_dump(content, sort_keys=False))
    click.echo(f"wrote accelerator.yaml, mapping.yaml, workload.yaml ({layer_ref}) to {folder}")
