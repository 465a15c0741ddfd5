"""Quantization-aware training of one network in one PE format, its evaluation, and its weights file.

The recipe (:class:`Recipe`, recorded with every result) is QADAM's: SGD with
Nesterov momentum 0.9, weight decay 5e-4, batch 128, learning rate 0.1 divided
by 5 at 30, 60 and 80 % of the epochs, for 200 epochs on CIFAR
(:data:`RECIPES`). On digits it is the same but for batch 32, learning rate
0.05 and 30 epochs: the networks have no batch normalization (every layer is
a plain convolution the accelerator runs, plus a bias), and with 1,437
training images QADAM's batch and rate gave 11 steps per epoch and fp32 test
accuracies of 95.0 % (ResNet-8) and 92.5 % (VGG-8) after 40 epochs on seed 0,
against 98.1 % and 98.6 % with these. Every step runs the fake-quant forward
pass (:class:`~quidam.accuracy.network.QuantizedNetwork`) in float32 with
straight-through gradients. A seed fixes the initial weights and the order of
the batches; training runs on one CPU thread (``torch.set_num_threads(1)``),
so a seed's result does not depend on the machine's core count.

:func:`evaluate` classifies the whole test split twice, in float64: through
the fake-quant model and through the golden convolution of the PE type, and
reports both top-1 accuracies (and top-5), the number of images whose
predictions agree, and the largest logit difference.

Weights files are ``.npz`` (numpy's zip of arrays, read with
``allow_pickle=False``, never a pickle): ``weight_<i>``, ``bias_<i>`` for
every layer, ``peaks``, and ``network``, ``dataset``, ``label`` as strings.
"""

from __future__ import annotations

import io
import os
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from quidam.inputs import InputError, read_bytes
from quidam.workloads.networks import Network

from .data import ImageData
from .network import QuantizedNetwork

__all__ = ["RECIPES", "WEIGHTS_BYTES", "Recipe", "evaluate", "load_weights", "save_weights", "train"]

#: Largest weights file read, bytes.
WEIGHTS_BYTES = 256 << 20


@dataclass(frozen=True)
class Recipe:
    """The training recipe: SGD, Nesterov momentum, step decay at fractions of the epochs."""

    epochs: int
    batch: int = 128
    lr: float = 0.1
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 5e-4
    milestones: tuple[float, ...] = (0.3, 0.6, 0.8)
    decay: float = 0.2

    def to_dict(self) -> dict:
        return {"optimizer": "sgd", **asdict(self), "milestones": list(self.milestones)}


#: The full recipe of each dataset (``quidam accuracy --epochs`` replaces only the epochs).
RECIPES = {"digits": Recipe(epochs=30, batch=32, lr=0.05), "cifar10": Recipe(epochs=200),
           "cifar100": Recipe(epochs=200)}


def _augment(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Random crops after 4-pixel zero padding and random horizontal flips (CIFAR's standard augmentation)."""
    n, _, height, width = images.shape
    padded = torch.nn.functional.pad(images, (4, 4, 4, 4))
    rows = torch.randint(0, 9, (n,), generator=generator)
    cols = torch.randint(0, 9, (n,), generator=generator)
    flips = torch.rand(n, generator=generator) < 0.5
    out = torch.empty_like(images)
    for k in range(n):
        crop = padded[k, :, rows[k]:rows[k] + height, cols[k]:cols[k] + width]
        out[k] = crop.flip(-1) if flips[k] else crop
    return out


def train(network: Network, label: str, data: ImageData, seed: int, recipe: Recipe, *,
          progress: bool = False) -> QuantizedNetwork:
    """Train ``network`` in format ``label`` on ``data``'s training split from ``seed``; eval mode on return."""
    from tqdm import tqdm

    torch.set_num_threads(1)
    torch.manual_seed(seed)
    model = QuantizedNetwork(network, label)
    optimizer = torch.optim.SGD(model.parameters(), lr=recipe.lr, momentum=recipe.momentum,
                                nesterov=recipe.nesterov, weight_decay=recipe.weight_decay)
    milestones = sorted({max(1, round(fraction * recipe.epochs)) for fraction in recipe.milestones})
    schedule = torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=milestones, gamma=recipe.decay)
    generator = torch.Generator().manual_seed(seed)
    images, labels = torch.from_numpy(data.train_x), torch.from_numpy(data.train_y)
    model.train()
    epochs = tqdm(range(recipe.epochs), desc=f"{network.name} {label} seed {seed}", unit="epoch",
                  disable=not progress, leave=False)
    for _ in epochs:
        order = torch.randperm(len(labels), generator=generator)
        for start in range(0, len(order), recipe.batch):
            batch = order[start:start + recipe.batch]
            inputs = _augment(images[batch], generator) if data.augment else images[batch]
            loss = torch.nn.functional.cross_entropy(model(inputs), labels[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        schedule.step()
        epochs.set_postfix(loss=f"{loss.item():.3f}")
    return model.eval()


def evaluate(model: QuantizedNetwork, data: ImageData, *, batch: int = 500) -> dict:
    """Top-1 (and top-5) on the test split through the golden convolution and the fake-quant model.

    Returns
    -------
    dict
        ``top1``, ``top5`` (hardware-exact path), ``fake_quant_top1``,
        ``agree`` (images with the same prediction on both paths), ``images``,
        ``max_logit_difference``.
    """
    model.eval()
    golden, fake = [], []
    with torch.no_grad():
        for start in range(0, len(data.test_y), batch):
            inputs = torch.from_numpy(data.test_x[start:start + batch]).to(torch.float64)
            golden.append(model.golden(inputs))
            fake.append(model(inputs))
    golden, fake = torch.cat(golden), torch.cat(fake)
    labels = torch.from_numpy(data.test_y)
    top5 = golden.topk(min(5, golden.shape[1]), dim=1).indices
    return {
        "top1": float((golden.argmax(1) == labels).double().mean()),
        "top5": float((top5 == labels[:, None]).any(1).double().mean()),
        "fake_quant_top1": float((fake.argmax(1) == labels).double().mean()),
        "agree": int((golden.argmax(1) == fake.argmax(1)).sum()),
        "images": int(len(labels)),
        "max_logit_difference": float((golden - fake).abs().max()),
    }


def save_weights(model: QuantizedNetwork, path: str | os.PathLike[str]) -> None:
    """Write ``model``'s parameters and calibration to the ``.npz`` file ``path`` atomically."""
    arrays = {"network": np.array(model.network.name), "dataset": np.array(model.network.dataset),
              "label": np.array(model.label), "peaks": model.peaks.numpy()}
    for i, (weight, bias) in enumerate(zip(model.weights, model.biases)):
        arrays[f"weight_{i}"] = weight.detach().numpy()
        arrays[f"bias_{i}"] = bias.detach().numpy()
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_bytes(buffer.getvalue())
    os.replace(temporary, path)


def load_weights(path: str | os.PathLike[str], network: Network, label: str) -> QuantizedNetwork:
    """The trained network of format ``label`` stored in ``path`` (eval mode).

    Raises
    ------
    InputError
        The file is missing, not an ``.npz`` of arrays, or holds another
        network, format or layer shapes (the message names the file).
    """
    data = read_bytes(path, "weights file", limit=WEIGHTS_BYTES)
    model = QuantizedNetwork(network, label)
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
            stored = {name: arrays[name] for name in arrays.files}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, KeyError) as error:
        raise InputError(f"weights file {path}: corrupted or not an .npz of arrays "
                         f"({' '.join(str(error).split()) or type(error).__name__})") from None
    expected = {"network": network.name, "dataset": network.dataset, "label": label}
    for key, value in expected.items():
        if key not in stored or str(stored[key]) != value:
            raise InputError(f"weights file {path}: {key} must be {value!r}, found "
                             f"{str(stored[key]) if key in stored else 'nothing'!r}")
    with torch.no_grad():
        tensors = [("peaks", model.peaks)]
        for i, (weight, bias) in enumerate(zip(model.weights, model.biases)):
            tensors += [(f"weight_{i}", weight), (f"bias_{i}", bias)]
        for name, tensor in tensors:
            array = stored.get(name)
            if array is None or array.shape != tuple(tensor.shape) or array.dtype.kind != "f" \
                    or not np.all(np.isfinite(array)):
                raise InputError(f"weights file {path}: {name} must be finite floats of shape "
                                 f"{tuple(tensor.shape)}, found {None if array is None else array.shape}")
            tensor.copy_(torch.from_numpy(array))
    return model.eval()
