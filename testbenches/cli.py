"""``quidam simulate``: one real layer on the generated accelerator, checked bit-exact and cycle-exact."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
import numpy as np

from quidam.config import load_config
from quidam.errors import ConfigError
from quidam.files import write_json
from quidam.inputs import FiniteFloat, output_dir

__all__ = ["simulate"]

SIMULATORS = ("icarus", "verilator")


def _dump(run, config, out: Path) -> None:
    """``ifmap.npy``, ``weights.npy`` (numeric values), ``ofmap.npy`` (the RTL's psums) and ``config.json``."""
    out.mkdir(parents=True, exist_ok=True)
    np.save(out / "ifmap.npy", run.operands.ifmap_values)
    np.save(out / "weights.npy", run.operands.weight_values)
    ofmap = run.ofmap.astype(np.uint32).view(np.float32) if config.pe.is_float else run.ofmap
    np.save(out / "ofmap.npy", ofmap)
    write_json(out / "config.json", config.to_dict())


def _given_operands(path: Path, layer, config):
    """The operands of ``--tensors``, checked against the layer's shape and the configuration's formats."""
    import io
    import zipfile

    from quidam.formats.conv import LayerOperands, conv2d_golden
    from quidam.inputs import InputError, read_bytes

    data = read_bytes(path, "tensors file", limit=256 << 20)
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
            ifmap, weights = arrays["ifmap_codes"], arrays["weight_codes"]
    except (ValueError, OSError, EOFError, KeyError, zipfile.BadZipFile) as error:
        raise InputError(f"tensors file {path}: not an .npz with ifmap_codes and weight_codes "
                         f"({' '.join(str(error).split())})") from None
    shapes = {"ifmap_codes": (ifmap.shape, (1, layer.C, layer.H, layer.W)),
              "weight_codes": (weights.shape, (layer.M, layer.C, layer.R, layer.S))}
    for name, (found, expected) in shapes.items():
        if found != expected:
            raise InputError(f"tensors file {path}: {name} must have the layer's shape {expected}, not {found}")
    try:  # the golden convolution validates the codes against the configured formats
        conv2d_golden(ifmap, weights, config=config, stride=layer.stride, padding=layer.padding)
    except ConfigError as error:
        raise InputError(f"tensors file {path}: {error}") from None
    return LayerOperands(ifmap, weights, ifmap, weights)  # no scales given: --dump writes the codes themselves


@click.command("simulate")
@click.option("--config", "config_file", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Accelerator configuration (YAML).")
@click.option("--layer", "layer_ref", required=True, metavar="NET:INDEX",
              help="A workload layer, e.g. resnet20:7 (see `quidam workloads show NET`).")
@click.option("--dataset", default=None, help="Dataset variant of the network (cifar10, cifar100, imagenet).")
@click.option("--channels-scale", type=FiniteFloat(min=0, max=1, min_open=True), default=1.0, show_default=True,
              help="Scale C and M (0 < F <= 1) to shorten the simulation of a large layer.")
@click.option("--sim", "simulator", default="icarus", show_default=True, metavar="SIM",
              help=f"Simulator: {', '.join(SIMULATORS)}.")
@click.option("--seed", type=click.IntRange(0, 2**32 - 1), default=1, show_default=True,
              help="Seed of the random ifmap and weights (0..2^32-1).")
@click.option("--memory", default="behavioural", show_default=True, metavar="KIND",
              help="GLB memories: behavioural or macro (fakeram45 instances on their behavioural models).")
@click.option("--dump", "dump_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Write ifmap.npy, weights.npy, ofmap.npy and config.json here.")
@click.option("--build", "build_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Build folder (default sim_build/simulate-<config hash>-<layer>).")
@click.option("--tensors", "tensors_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Simulate these operands instead of random ones: an .npz with ifmap_codes (1, C, H, W) and "
                   "weight_codes (M, C, R, S) as conv2d_golden reads them (quidam accuracy-tensors writes one).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of the summary.")
def simulate(config_file, layer_ref, dataset, channels_scale, simulator, seed, memory, dump_dir, build_dir,
             tensors_file, as_json):
    """Simulate one layer on the RTL; compare with the golden convolution and the analytical model.

    Exits 1 when the output is not bit-exact or the RTL's cycles or access
    counts differ from the model's.

    \b
    Example: quidam simulate --config configs/eyeriss.yaml --layer resnet20:9 --json
    """
    from quidam.rtl_gen.glb import MEMORIES
    from quidam.workloads.networks import parse_layer_ref

    from .accelerator_runner import run_layer

    if simulator not in SIMULATORS:
        raise ConfigError(f"sim: must be one of {', '.join(SIMULATORS)}, not {simulator!r}")
    if memory not in MEMORIES:
        raise ConfigError(f"memory: must be one of {', '.join(MEMORIES)}, not {memory!r}")
    config = load_config(config_file)
    _, layer = parse_layer_ref(layer_ref, dataset)
    if channels_scale != 1.0:
        layer = layer.scaled(channels_scale)
    build_dir = output_dir(build_dir or Path("sim_build") / (
        f"simulate-{config.config_hash[:12]}-{layer_ref.replace(':', '_')}-{memory}"), "build folder")
    if dump_dir:
        output_dir(dump_dir, "dump folder")
    operands = _given_operands(tensors_file, layer, config) if tensors_file else None
    run = run_layer(config, layer, build_dir, seed=seed, memory=memory, simulator=simulator, operands=operands)
    if dump_dir:
        _dump(run, config, dump_dir)
    ok = run.bit_exact and run.cycles_match and run.accesses_match
    if as_json:
        click.echo(json.dumps({"layer": layer_ref, "shape": layer.__dict__, **run.to_json()}))
    else:
        click.echo(f"{layer_ref} ({layer.name}: C={layer.C} M={layer.M} H={layer.H} W={layer.W} R={layer.R} "
                   f"S={layer.S} stride={layer.stride} padding={layer.padding}) on {config.pe_type} "
                   f"{config.rows}x{config.cols}")
        click.echo(f"  bit exact: {run.bit_exact} ({run.mismatches} of {run.golden.size} outputs differ)")
        click.echo(f"  cycles: rtl {run.rtl_cycles}, model {run.model_cycles}; MACs {run.macs}; "
                   f"utilization {run.utilization:.3f}")
        for key, model in run.accesses["model"].items():
            rtl = run.accesses["rtl"][key]
            click.echo(f"  {key:18s} rtl {rtl:>12d}  model {model:>12d}{'' if rtl == model else '  MISMATCH'}")
    if not ok:
        sys.exit(1)
