"""Resumable accuracy runs: every (format, seed) of a network on a dataset, trained once and kept.

``<out>/<network>-<dataset>.json`` holds one entry per format label and seed:
top-1 and top-5 through the golden convolution, the fake-quant model's top-1,
how many test images the two paths classify alike, the largest logit
difference, the epochs, the recipe, the training time, the digest of the code
that trained it, and the weights file (``<out>/weights/<network>-<dataset>/
<label>-seed<k>.npz``, see :mod:`~quidam.accuracy.train`) with its SHA-256.
Beside the runs it keeps the data's digest and split sizes, and per format
the mean and the sample standard deviation (``ddof = 1``) of top-1 over the
seeds present.

A run is written (atomically, under a file lock) as soon as it finishes, so
a killed command loses at most the run in progress; the next one keeps every
finished run whose recipe and data digest match and trains only the others.
A run trained by other code (another :func:`code_digest`) is kept but
counted, so the caller can say so.
"""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path
from typing import Callable

import numpy as np

from quidam.files import locked, write_json
from quidam.inputs import InputError, load_json
from quidam.workloads.networks import Network

from .data import ImageData
from .train import Recipe, evaluate, load_weights, save_weights, train

__all__ = ["RUN_KEYS", "code_digest", "read_results", "results_path", "run_accuracy", "summarize", "weights_path"]

_ROOT = Path(__file__).resolve().parent.parent
# The sources that decide a trained network's numbers: training, the network, the data, the number formats and
# the layer tables (not the command line, the results bookkeeping or the co-exploration).
_CODE = ("accuracy/quantizers.py", "accuracy/network.py", "accuracy/train.py", "accuracy/data.py", "formats/*.py",
         "workloads/layer.py", "workloads/networks.py")


#: The keys every stored run has.
RUN_KEYS = frozenset({"top1", "top5", "fake_quant_top1", "agree", "images", "max_logit_difference", "epochs",
                      "train_seconds", "recipe", "data_digest", "code_digest", "weights", "weights_sha256"})
_NUMBERS = ("top1", "top5", "fake_quant_top1", "agree", "images", "max_logit_difference")


def code_digest() -> str:
    """SHA-256 of the sources that decide a trained network's numbers (training, network, data, formats, layers)."""
    hasher = hashlib.sha256()
    for pattern in _CODE:
        for path in sorted(_ROOT.glob(pattern)):
            hasher.update(f"{path.relative_to(_ROOT).as_posix()}\0".encode())
            hasher.update(path.read_bytes())
    return hasher.hexdigest()


def results_path(out_dir: str | os.PathLike[str], network: Network) -> Path:
    """``<out_dir>/<network>-<dataset>.json``."""
    return Path(out_dir) / f"{network.name}-{network.dataset}.json"


def weights_path(out_dir: str | os.PathLike[str], network: Network, label: str, seed: int) -> Path:
    """``<out_dir>/weights/<network>-<dataset>/<label>-seed<seed>.npz``."""
    return Path(out_dir) / "weights" / f"{network.name}-{network.dataset}" / f"{label}-seed{seed}.npz"


def read_results(path: Path, network: Network) -> dict:
    """The results file ``path`` of ``network`` (an empty one when missing); malformed: :class:`InputError`."""
    if not path.exists():
        return {"network": network.name, "dataset": network.dataset, "runs": {}}
    results = load_json(path, "accuracy results")
    if not (isinstance(results, dict) and isinstance(results.get("runs"), dict)
            and all(isinstance(runs, dict) for runs in results["runs"].values())):
        raise InputError(f"accuracy results {path}: malformed (a dict with a dict of runs per format expected)")
    for label, by_seed in results["runs"].items():
        for seed, run in by_seed.items():
            missing = RUN_KEYS - run.keys() if isinstance(run, dict) else RUN_KEYS
            if missing or not all(isinstance(run[key], (int, float)) for key in _NUMBERS):
                raise InputError(f"accuracy results {path}: run {label} seed {seed} is malformed "
                                 f"(missing or non-numeric: {', '.join(sorted(missing) or _NUMBERS)})")
    return results


def summarize(runs: dict) -> dict:
    """Per format: seeds, mean and sample standard deviation of top-1 (and the mean top-5)."""
    summary = {}
    for label, by_seed in runs.items():
        top1 = np.array([run["top1"] for run in by_seed.values()])
        summary[label] = {"seeds": len(top1), "top1_mean": float(top1.mean()),
                          "top1_std": float(top1.std(ddof=1)) if len(top1) > 1 else 0.0,
                          "top5_mean": float(np.mean([run["top5"] for run in by_seed.values()]))}
    return summary


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _check(weights: Path, stored: dict, network: Network, label: str, data: ImageData) -> None:
    """Reload a kept run's weights and evaluate them again; refuse a changed file or result."""
    if weights.is_file() and _sha256(weights) != stored["weights_sha256"]:
        raise InputError(f"weights file {weights}: corrupted or changed (its SHA-256 differs from the results file)")
    scores = evaluate(load_weights(weights, network, label), data)
    changed = [key for key, value in scores.items() if stored.get(key) != value]
    if changed:
        raise RuntimeError(f"{label}: the weights in {weights} give another {', '.join(changed)} than recorded")


def run_accuracy(network: Network, data: ImageData, labels: tuple[str, ...], seeds: range, recipe: Recipe,
                 out_dir: str | os.PathLike[str], *, check_weights: bool = False, progress: bool = False,
                 echo: Callable[[str], None] = print) -> dict:
    """Train and evaluate every (label, seed) not already in the results file; return the results.

    Parameters
    ----------
    network : Network
        The layer table (its dataset names the results file).
    data : ImageData
        Train and test splits.
    labels : tuple of str
        Format labels.
    seeds : range
        Seeds to have.
    recipe : Recipe
        Training recipe; a stored run counts only with the same recipe and data digest.
    out_dir : path
        Folder of the results file and the weights.
    check_weights : bool
        Reload every kept run's weights file, check its SHA-256 and evaluate it
        again; a different result raises.
    progress : bool
        Show a progress bar per training.
    echo : callable
        Receives one line per run.

    Raises
    ------
    InputError
        A malformed results file; with ``check_weights``, a missing, corrupted
        or changed weights file.
    RuntimeError
        With ``check_weights``, a kept run whose weights no longer give its result.
    """
    path = results_path(out_dir, network)
    lock = path.with_name(f".{path.name}.lock")
    code = code_digest()
    wanted = {"recipe": recipe.to_dict(), "data_digest": data.digest}
    with locked(lock):
        results = read_results(path, network)
    for label in labels:
        for seed in seeds:
            stored = results["runs"].get(label, {}).get(str(seed))
            if stored and all(stored.get(key) == value for key, value in wanted.items()):
                if check_weights:
                    _check(path.parent / stored["weights"], stored, network, label, data)
                echo(f"{label} seed {seed}: top-1 {stored['top1']:.4f} (kept{', weights checked' * check_weights})")
                continue
            start = time.perf_counter()
            model = train(network, label, data, seed, recipe, progress=progress)
            seconds = time.perf_counter() - start
            scores = evaluate(model, data)
            weights = weights_path(out_dir, network, label, seed)
            save_weights(model, weights)
            run = {**scores, "epochs": recipe.epochs, "train_seconds": round(seconds, 2), **wanted,
                   "code_digest": code, "weights": weights.relative_to(path.parent).as_posix(),
                   "weights_sha256": _sha256(weights)}
            with locked(lock):
                results = read_results(path, network)
                results["runs"].setdefault(label, {})[str(seed)] = run
                results.update(data={"digest": data.digest, "train_images": len(data.train_y),
                                     "test_images": len(data.test_y), "classes": data.classes},
                               summary=summarize(results["runs"]))
                write_json(path, results)
            echo(f"{label} seed {seed}: top-1 {scores['top1']:.4f} (fake-quant {scores['fake_quant_top1']:.4f}, "
                 f"{scores['agree']}/{scores['images']} predictions agree) in {seconds:.1f} s")
    return results
