"""Accuracy in the loop: fake-quantizers against formats.quantize, the golden path against the fake-quant model,
the data loaders (a CIFAR folder in the real format, written here), the resumable command and its refusals.

Training here is a few epochs on a slice of digits; the committed results come from the full recipe.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from quidam.accuracy.data import load_data
from quidam.accuracy.network import QuantizedNetwork, headroom, program
from quidam.accuracy.quantizers import DEFAULT_LABELS, fake_quantize, formats, parse_labels, pe_config, saturation
from quidam.accuracy.runs import RUN_KEYS, read_results
from quidam.accuracy.train import Recipe, evaluate, load_weights, save_weights, train
from quidam.errors import QuidamError
from quidam.formats import conv2d_golden, quantize
from quidam.workloads import get_network
from quidam_cli import refused, run_cli

FORMATS = [f"int{bits}" for bits in range(2, 17)] + ["lightpe1", "lightpe2", "fp32"]


@pytest.fixture(scope="module")
def digits():
    return load_data("digits")


@pytest.mark.parametrize("fmt", FORMATS)
def test_fake_quantizer_is_formats_quantize_code_for_code(fmt):
    rng = np.random.default_rng(len(fmt))
    for trial in range(4):
        x = rng.standard_normal((3, 5, 7, 7)) * 10.0 ** rng.uniform(-3, 3)
        x[0, 0, 0, :3] = [0.0, -0.0, x.max()]  # zero and an exact peak
        values = torch.tensor(x, dtype=torch.float64)
        given = None if trial % 2 == 0 else float(np.abs(x).mean()) / 3  # a calibrated scale saturates
        integers, scale = fake_quantize(values, fmt, given)
        reference = quantize(x, fmt, scale=given)
        assert scale == reference.scale
        expected = reference.integers().astype(np.float64)
        assert np.array_equal(integers.numpy(), expected, equal_nan=True)
        assert np.array_equal(quantize(integers.numpy() * scale, fmt, scale=scale).codes, reference.codes)


@pytest.mark.parametrize("fmt", ["int4", "int8", "lightpe1", "lightpe2", "fp32"])
def test_straight_through_gradient_is_one_over_scale_inside_and_zero_where_saturated(fmt):
    x = torch.linspace(-3, 3, 61, dtype=torch.float64, requires_grad=True)
    integers, scale = fake_quantize(x, fmt, None if fmt == "fp32" else 1.5 / saturation(fmt))
    integers.sum().backward()
    if fmt == "fp32":
        assert torch.equal(x.grad, torch.ones_like(x))
        return
    inside = x.detach().abs() <= 1.5
    assert torch.allclose(x.grad[inside], torch.full_like(x.grad[inside], 1 / scale))
    assert torch.all(x.grad[~inside] == 0) and (~inside).any()


def test_format_labels_name_the_hardware_formats():
    assert formats("lightpe1") == ("int8", "lightpe1") and formats("fp32") == ("fp32", "fp32")
    assert formats("int4x2") == ("int4", "int2") and formats("int16") == ("int16", "int16")
    assert pe_config("int8x4").pe_type == "int" and parse_labels("all") == DEFAULT_LABELS
    assert parse_labels("int2x2, fp32,int2x2") == ("int2x2", "fp32")
    for bad in ("int1x4", "int4x17", "int8", "lightpe3", ""):
        with pytest.raises(QuidamError, match="--pe"):
            parse_labels(bad)


def test_networks_are_the_workload_layer_tables():
    resnet = program(get_network("resnet8", "digits"))
    assert resnet == (("conv", 0), ("relu",), ("block", 1, 2, None), ("block", 3, 4, 5), ("block", 6, 7, 8),
                      ("avgpool",), ("flatten",), ("conv", 9))
    vgg = program(get_network("vgg8", "digits"))
    assert [step for step in vgg if step[0] == "maxpool"] == [("maxpool", 2)] * 3 and vgg[-2:] == (
        ("flatten",), ("conv", 7))
    for name, dataset in (("resnet20", "cifar10"), ("resnet56", "cifar100"), ("vgg16", "cifar10")):
        network = get_network(name, dataset)
        used = sorted(i for step in program(network) for i in step[1:] if step[0] in ("conv", "block")
                      and i is not None)
        assert used == list(range(len(network.layers)))
    torch.manual_seed(0)
    network = get_network("resnet20", "cifar10")
    model = QuantizedNetwork(network, "int8x8")
    assert [tuple(w.shape) for w in model.weights] == [(lay.M, lay.C, lay.R, lay.S) for lay in network.layers]
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)


def test_headroom_keeps_every_partial_sum_inside_the_accumulator():
    rng = np.random.default_rng(1)
    for label in ("int16", "int8x8", "lightpe2", "int2x2"):
        config = pe_config(label)
        activation_format, weight_format = formats(label)
        weights = quantize(rng.standard_normal((8, 64, 3, 3)), weight_format)
        limit = headroom(weights.integers(), activation_format, config.psum_bits)
        assert 1 <= limit <= saturation(activation_format)
        # The worst input within the limit: every activation at +-limit with the sign of its weight.
        worst = np.sign(weights.integers()).astype(np.int64) * limit
        exact = (worst * weights.integers()).reshape(8, -1).sum(axis=1)
        assert exact.max() < 1 << (config.psum_bits - 1)
    assert headroom(quantize(np.ones((2, 576, 3, 3)), "int16").integers(), "int16", 32) < saturation("int16")


@pytest.mark.parametrize("label", ["int16", "lightpe1", "lightpe2", "int8x8", "int4x4", "int2x2", "fp32"])
def test_golden_convolution_path_gives_the_fake_quant_predictions(digits, label):
    data = digits.subset(300, 120)
    for name in ("resnet8", "vgg8"):
        model = train(get_network(name, "digits"), label, data, seed=3, recipe=Recipe(epochs=2, batch=32, lr=0.05))
        scores = evaluate(model, data)
        assert scores["images"] == 120
        if label == "fp32":  # binary32 sums in order vs float64 sums: the documented rounding
            assert scores["max_logit_difference"] < 1e-4 and scores["agree"] >= 119
        else:
            assert scores["agree"] == 120 and scores["max_logit_difference"] == 0.0, scores


def test_golden_layer_is_the_integer_convolution_of_the_codes(digits):
    """One layer of the golden path against an independent reference: float64 PyTorch conv2d of the decoded
    integers (exact), rescaled."""
    network = get_network("resnet8", "digits")
    torch.manual_seed(0)
    model = QuantizedNetwork(network, "lightpe2").eval()
    model.peaks.fill_(1.0)
    x = torch.from_numpy(digits.test_x[:16]).to(torch.float64)
    golden = model._golden_conv(0, x)
    weights = quantize(model.weights[0].detach().numpy(), "lightpe2")
    activations = quantize(x.numpy(), "int8", scale=model.activation_scale(0, weights.integers()))
    reference = torch.nn.functional.conv2d(torch.from_numpy(activations.integers().astype(np.float64)),
                                           torch.from_numpy(weights.integers().astype(np.float64)), padding=1)
    assert torch.equal(golden, reference * (activations.scale * weights.scale))
    sums = conv2d_golden(activations.codes, weights.codes, config=model.config, stride=1, padding=1)
    assert np.array_equal(sums, reference.numpy().astype(np.int64))


def test_digits_split_is_fixed(digits):
    assert digits.train_x.shape == (1437, 1, 8, 8) and digits.test_x.shape == (360, 1, 8, 8)
    assert digits.train_x.min() == 0 and digits.train_x.max() == 1 and digits.classes == 10
    assert np.bincount(digits.test_y).min() >= 35
    assert load_data("digits").digest == digits.digest


def _write_cifar(root: Path, name: str, images_per_batch: int = 6, rng=None) -> Path:
    """A folder in the exact python-pickle format of the CIFAR distribution (dicts with bytes keys)."""
    rng = np.random.default_rng(0) if rng is None else rng
    if name == "cifar10":
        folder, batches, key, classes = root / "cifar-10-batches-py", [f"data_batch_{i}" for i in range(1, 6)] + [
            "test_batch"], b"labels", 10
    else:
        folder, batches, key, classes = root / "cifar-100-python", ["train", "test"], b"fine_labels", 100
    folder.mkdir(parents=True)
    for batch in batches:
        record = {b"batch_label": batch.encode(), key: rng.integers(0, classes, images_per_batch).tolist(),
                  b"data": rng.integers(0, 256, (images_per_batch, 3072), dtype=np.uint8),
                  b"filenames": [f"img{i}.png".encode() for i in range(images_per_batch)]}
        if name == "cifar100":
            record[b"coarse_labels"] = [0] * images_per_batch
        (folder / batch).write_bytes(pickle.dumps(record, protocol=2))
    return folder


@pytest.mark.parametrize("name", ["cifar10", "cifar100"])
def test_cifar_loader_reads_the_python_pickle_folders(tmp_path, name):
    folder = _write_cifar(tmp_path, name)
    data = load_data(name, tmp_path)
    train_batches = 5 if name == "cifar10" else 1
    assert data.train_x.shape == (6 * train_batches, 3, 32, 32) and data.test_x.shape == (6, 3, 32, 32)
    assert data.classes == (10 if name == "cifar10" else 100) and data.augment
    assert np.allclose(data.train_x.mean(axis=(0, 2, 3)), 0, atol=1e-5)
    raw = pickle.loads((folder / ("test_batch" if name == "cifar10" else "test")).read_bytes())
    label_key = b"labels" if name == "cifar10" else b"fine_labels"
    assert data.test_y.tolist() == raw[label_key]
    # The first test image's red channel, first row, as the file stores it (1024 red, then green, blue).
    red = raw[b"data"][0, :32].astype(np.float32) / 255
    assert np.argsort(data.test_x[0, 0, 0]).tolist() == np.argsort(red, kind="stable").tolist() or np.allclose(
        np.corrcoef(data.test_x[0, 0, 0], red)[0, 1], 1)
    assert load_data(name, folder).digest == data.digest  # the folder itself works too


def test_cifar_folder_trains_end_to_end_with_augmentation(tmp_path):
    _write_cifar(tmp_path / "data", "cifar10")
    code, stdout, err = run_cli("accuracy", "--network", "resnet8", "--dataset", "cifar10", "--data-dir",
                                tmp_path / "data", "--pe", "int8x8", "--seeds", "1", "--epochs", "1",
                                "--out", tmp_path / "acc")
    assert code == 0, err
    run = json.loads((tmp_path / "acc" / "resnet8-cifar10.json").read_text())["runs"]["int8x8"]["0"]
    assert run["images"] == 6 and run["agree"] == 6 and run["recipe"]["batch"] == 128


def test_cifar_loader_refuses_missing_malformed_and_hostile_batches(tmp_path):
    folder = _write_cifar(tmp_path, "cifar10")
    (folder / "data_batch_3").unlink()
    line = refused("accuracy", "--network", "resnet8", "--dataset", "cifar10", "--data-dir", tmp_path)
    assert "data_batch_3" in line and "no such file" in line
    (folder / "data_batch_3").write_bytes(b"\x80\x02garbage")
    line = refused("accuracy", "--network", "resnet8", "--dataset", "cifar10", "--data-dir", tmp_path)
    assert "data_batch_3" in line and "python-pickle" in line

    class Hostile:
        def __reduce__(self):
            return (print, ("pwned",))

    (folder / "data_batch_3").write_bytes(pickle.dumps({b"data": Hostile()}, protocol=2))
    line = refused("accuracy", "--network", "resnet8", "--dataset", "cifar10", "--data-dir", tmp_path)
    assert "data_batch_3" in line and "print, which a CIFAR batch never does" in line
    (folder / "data_batch_3").write_bytes(pickle.dumps({b"data": np.zeros((2, 5), np.uint8), b"labels": [0, 1]}))
    assert "(N, 3072)" in refused("accuracy", "--network", "resnet8", "--dataset", "cifar10", "--data-dir", tmp_path)
    assert "no such folder" in refused("accuracy", "--network", "resnet8", "--dataset", "cifar100",
                                       "--data-dir", tmp_path / "none")
    assert "--data-dir" in refused("accuracy", "--network", "resnet8", "--dataset", "cifar100")


def test_bad_network_dataset_and_format_are_one_line_each():
    assert "unknown workload 'lenet'" in refused("accuracy", "--network", "lenet")
    assert "unknown dataset 'mnist'" in refused("accuracy", "--network", "resnet8", "--dataset", "mnist")
    assert "not 'digits'" in refused("accuracy", "--network", "resnet20", "--dataset", "digits")
    assert "int1x1" in refused("accuracy", "--network", "resnet8", "--pe", "int1x1")
    assert "unknown dataset" in refused("coexplore", "--network", "resnet8", "--dataset", "imagenet")


def test_weights_round_trip_and_corrupted_files_are_refused(digits, tmp_path):
    network = get_network("resnet8", "digits")
    model = train(network, "lightpe1", digits.subset(64, 32), seed=0, recipe=Recipe(epochs=1, batch=32))
    path = tmp_path / "w.npz"
    save_weights(model, path)
    loaded = load_weights(path, network, "lightpe1")
    x = torch.from_numpy(digits.test_x[:32]).to(torch.float64)
    assert torch.equal(loaded.golden(x), model.golden(x))
    with pytest.raises(QuidamError, match="label must be 'int16'"):
        load_weights(path, network, "int16")
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(QuidamError, match="corrupted"):
        load_weights(path, network, "lightpe1")
    path.write_bytes(pickle.dumps({"weight_0": np.zeros(3)}))
    with pytest.raises(QuidamError, match="corrupted"):
        load_weights(path, network, "lightpe1")


def test_accuracy_command_resumes_without_redoing_finished_seeds(tmp_path):
    out = tmp_path / "acc"
    args = ("accuracy", "--network", "vgg8", "--pe", "int4x4,lightpe2", "--epochs", "1", "--out", out)
    code, stdout, err = run_cli(*args, "--seeds", "1")
    assert code == 0, err
    results_file = out / "vgg8-digits.json"
    first = json.loads(results_file.read_text())
    assert set(first["runs"]) == {"int4x4", "lightpe2"} and set(first["runs"]["int4x4"]) == {"0"}
    # An interrupted run (seed 1 missing) continues: seed 0 kept, seed 1 trained.
    code, stdout, err = run_cli(*args, "--seeds", "2")
    assert code == 0, err
    assert stdout.count("(kept)") == 2 and stdout.count(" in ") >= 2
    results = read_results(results_file, get_network("vgg8", "digits"))
    assert results["runs"]["int4x4"]["0"] == first["runs"]["int4x4"]["0"]
    run = results["runs"]["lightpe2"]["1"]
    assert run["agree"] == run["images"] == 360 and run["recipe"]["epochs"] == 1 and run["recipe"]["batch"] == 32
    assert results["summary"]["lightpe2"]["seeds"] == 2
    assert (out / run["weights"]).is_file() and len(run["weights_sha256"]) == 64
    code, stdout, err = run_cli(*args, "--seeds", "2", "--check-weights")
    assert code == 0 and stdout.count("(kept, weights checked)") == 4, (stdout, err)
    (out / run["weights"]).write_bytes(b"PK\x03\x04 not a zip")
    code, stdout, err = run_cli(*args, "--seeds", "2", "--check-weights")   # after the runs checked before it
    assert code == 2 and "Traceback" not in err and stdout.count("(kept, weights checked)") == 3, (stdout, err)
    (line,) = err.splitlines()
    assert line.startswith("error: weights file") and "lightpe2-seed1.npz: corrupted or changed" in line
    results_file.write_text("{\"runs\": [1, 2]}")
    assert "malformed" in refused(*args)
    results_file.write_text(json.dumps({"runs": {"int4x4": {"0": {"top1": "high"}}}}))
    assert "run int4x4 seed 0 is malformed" in refused(*args)


def test_coexplore_joins_accuracy_with_the_design_points(tmp_path):
    network = get_network("resnet8", "digits")
    summary = {"fp32": 0.98, "int16": 0.975, "lightpe1": 0.97, "lightpe2": 0.976, "int2x2": 0.95}
    offsets = (-0.004, 0.0, 0.004)  # three seeds: mean top1, sample std 0.004
    run = {key: 0 for key in RUN_KEYS} | {"images": 360, "agree": 360, "top5": 1.0}
    results = {"network": "resnet8", "dataset": "digits",
               "runs": {label: {str(seed): {**run, "top1": top1 + offset} for seed, offset in enumerate(offsets)}
                        for label, top1 in summary.items()}}
    (tmp_path / "acc").mkdir()
    (tmp_path / "acc" / "resnet8-digits.json").write_text(json.dumps(results))
    space = tmp_path / "space.yaml"
    space.write_text("pe_types: [fp32, int16, lightpe1, lightpe2]\nbase: {glb_banks: 8, glb_word_bits: 64}\n"
                     "grid: {rows: [4, 8, 12], cols: [4, 8, 14], glb_kib: [32, 64]}\n")
    out = tmp_path / "co" / "resnet8-digits"
    code, stdout, err = run_cli("coexplore", "--network", "resnet8", "--results", tmp_path / "acc", "--space", space,
                                "--out", out)
    assert code == 0, err
    table = json.loads((out / "coexplore.json").read_text())
    assert (out / "coexplore.png").read_bytes()[:4] == b"\x89PNG" and "int2x2" in (out / "coexplore.md").read_text()
    rows = {row["label"]: row for row in table["formats"]}
    assert rows["int2x2"]["points"] == 0 and rows["int2x2"]["best_perf"] is None
    assert all(rows[label]["points"] > 0 for label in ("fp32", "int16", "lightpe1", "lightpe2"))
    assert rows["int16"]["best_perf"]["norm_perf_per_area"] == 1.0  # normalized to the best INT16 point
    for name, key, better in (("perf_per_area", "norm_perf_per_area", 1), ("energy", "norm_energy", -1)):
        front = table["fronts"][name]
        assert front and front[-1 if better == 1 else 0]["accuracy"] <= max(summary.values())
        points = [(p["accuracy"], better * p[key]) for p in front]
        for a in points:  # no front point dominates another
            assert not any(b[0] >= a[0] and b[1] >= a[1] and b != a for b in points)
        assert max(p["accuracy"] for p in front) == summary["fp32"]
    line = refused("coexplore", "--network", "vgg8", "--results", tmp_path / "acc", "--out", out)
    assert "vgg8-digits.json" in line and "quidam accuracy" in line
    # The HTML report gains the section.
    explored = tmp_path / "explore"
    assert run_cli("explore", "--workload", "resnet8", "--dataset", "digits", "--space", space,
                   "--out", explored / "resnet8-digits")[0] == 0
    page = tmp_path / "report.html"
    code, _, err = run_cli("report", "--explore", explored, "--coexplore", tmp_path / "co", "--out", page)
    assert code == 0, err
    text = page.read_text()
    assert "Accuracy vs hardware" in text and "resnet8 on digits" in text and "97.50 &plusmn; 0.40" in text


def test_a_trained_layer_runs_bit_exact_on_the_rtl(tmp_path):
    """A trained LightPE-2 layer, its real weights and a real test image after the layers before it, through the
    generated accelerator (Icarus): the RTL's psums are the golden path's."""
    import subprocess
    import sys

    out = tmp_path / "acc"
    assert run_cli("accuracy", "--network", "resnet8", "--pe", "lightpe2", "--seeds", "1", "--epochs", "1",
                   "--out", out)[0] == 0
    tensors = tmp_path / "layer3.npz"
    code, stdout, err = run_cli("accuracy-tensors", "--network", "resnet8", "--pe", "lightpe2", "--layer", "3",
                                "--image", "7", "--results", out, "--out", tensors)
    assert code == 0, err
    config = tmp_path / "lightpe2.yaml"
    config.write_text("pe_type: lightpe2\nrows: 3\ncols: 4\nglb_kib: 8\nglb_banks: 2\n")
    done = subprocess.run([sys.executable, "-m", "quidam", "simulate", "--config", str(config), "--layer",
                           "resnet8:3", "--dataset", "digits", "--tensors", str(tensors), "--json", "--dump",
                           str(tmp_path / "dump"), "--build", str(tmp_path / "build")], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout)
    assert result["bit_exact"] and result["rtl_cycles"] == result["model_cycles"]
    stored = np.load(tensors)
    assert np.array_equal(np.load(tmp_path / "dump" / "ofmap.npy"), stored["psums"])
    assert np.count_nonzero(stored["ifmap_codes"]) > 0 and str(stored["label"]) == "lightpe2"


def test_simulate_refuses_tensors_of_another_shape_or_format(tmp_path):
    config = tmp_path / "int8.yaml"
    config.write_text("pe_type: int\nact_bits: 8\nwt_bits: 8\n")
    tensors = tmp_path / "t.npz"
    np.savez(tensors, ifmap_codes=np.zeros((1, 16, 8, 8), np.uint8), weight_codes=np.zeros((16, 16, 3, 3), np.uint8))
    args = ("simulate", "--config", config, "--layer", "resnet8:3", "--dataset", "digits", "--tensors", tensors)
    assert "weight_codes must have the layer's shape (32, 16, 3, 3)" in refused(*args)
    np.savez(tensors, ifmap_codes=np.zeros((1, 16, 8, 8), np.uint16), weight_codes=np.full((32, 16, 3, 3), 300))
    assert "signed 8-bit values" in refused(*args)
    tensors.write_bytes(b"not a zip")
    assert "not an .npz" in refused(*args)


@pytest.mark.parametrize("name", ["resnet8", "vgg8"])
def test_committed_results_are_complete_and_make_coexplore_trains_nothing(tmp_path, name):
    committed = Path(__file__).resolve().parents[1] / "reports" / "accuracy" / f"{name}-digits.json"
    (tmp_path / committed.name).write_bytes(committed.read_bytes())
    code, stdout, err = run_cli("accuracy", "--network", name, "--dataset", "digits", "--out", tmp_path)
    assert code == 0, err
    assert stdout.count("(kept)") == len(DEFAULT_LABELS) * 5 and not (tmp_path / "weights").exists()
    results = json.loads(committed.read_text())
    assert results["summary"]["fp32"]["top1_mean"] >= 0.97
    for label, by_seed in results["runs"].items():
        assert sorted(by_seed) == [str(seed) for seed in range(5)]
        if label != "fp32":
            assert all(run["agree"] == run["images"] == 360 for run in by_seed.values())
