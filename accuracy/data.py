"""Image classification data that is really there, offline: scikit-learn's digits and CIFAR on disk.

``digits`` (the default)
    scikit-learn's bundled copy of the UCI optical digits: 1,797 real 8 x 8
    grey images (pixel values 0..16), 10 classes. The split is fixed:
    :data:`DIGITS_TEST` images stratified by class with
    ``train_test_split(random_state=0)``, the other 1,437 train. Pixels are
    scaled to 0..1 (``x / 16``).
``cifar10``, ``cifar100``
    The standard python-pickle folders (``cifar-10-batches-py`` with
    ``data_batch_1..5`` and ``test_batch``; ``cifar-100-python`` with
    ``train`` and ``test``, fine labels) under ``--data-dir``, which may be
    the folder itself or the folder holding it. Each batch is a dict of
    ``data`` (N x 3072 uint8, rows of 1024 red, green, blue pixels of a 32 x 32
    image) and ``labels`` / ``fine_labels``. Batches are unpickled with a
    restricted unpickler that builds only dicts, lists, bytes, numbers and
    numpy arrays (nothing else can be named in the file, so a hostile pickle
    cannot run code). Pixels are scaled to 0..1 and standardized per channel
    with the training set's mean and standard deviation; training crops
    randomly after 4-pixel zero padding and flips horizontally.

Every refusal (a missing folder, a missing or malformed batch) is a
:class:`~quidam.inputs.InputError` naming the file: one line, exit status 2.
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from quidam.inputs import InputError, read_bytes
from quidam.workloads.networks import DATASETS, IMAGE_CHANNELS

__all__ = ["BATCH_BYTES", "DATASET_NAMES", "DIGITS_TEST", "ImageData", "load_data"]

#: Datasets :func:`load_data` reads.
DATASET_NAMES = ("digits", "cifar10", "cifar100")
#: Test images of the fixed digits split (the rest train).
DIGITS_TEST = 360
#: Largest pickled batch read (CIFAR-100's ``train`` is 150 MiB), bytes.
BATCH_BYTES = 256 << 20

_CIFAR = {  # dataset -> (folder, training batches, test batch, label key)
    "cifar10": ("cifar-10-batches-py", tuple(f"data_batch_{i}" for i in range(1, 6)), "test_batch", b"labels"),
    "cifar100": ("cifar-100-python", ("train",), "test", b"fine_labels"),
}
# The only globals a CIFAR batch may name: numpy's array reconstruction (numpy 1 and 2 spellings) and the
# byte-string codec that Python 3 pickles of protocol 2 use for bytes.
_ALLOWED_GLOBALS = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
                    ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode")}


@dataclass(frozen=True)
class ImageData:
    """A dataset split into train and test, ready for training.

    Members
    -------
    name : str
        ``digits``, ``cifar10`` or ``cifar100``.
    train_x, test_x : numpy.ndarray
        float32 images ``(N, C, H, W)``, normalized as the module notes say.
    train_y, test_y : numpy.ndarray
        int64 class labels.
    classes : int
    augment : bool
        Whether training crops and flips (CIFAR).
    digest : str
        SHA-256 of the raw images and labels of both splits, as read.
    """

    name: str
    train_x: np.ndarray
    train_y: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray
    classes: int
    augment: bool
    digest: str

    def subset(self, train: int, test: int) -> ImageData:
        """The first ``train`` training and ``test`` test images (quick checks); the digest says so."""
        return ImageData(self.name, self.train_x[:train], self.train_y[:train], self.test_x[:test],
                         self.test_y[:test], self.classes, self.augment, f"{self.digest}[:{train}/:{test}]")


def _digest(*arrays: np.ndarray) -> str:
    hasher = hashlib.sha256()
    for array in arrays:
        hasher.update(np.ascontiguousarray(array).tobytes())
    return hasher.hexdigest()


def _digits() -> ImageData:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    bunch = load_digits()
    side = DATASETS["digits"][0]
    images = bunch.images.astype(np.uint8).reshape(-1, IMAGE_CHANNELS["digits"], side, side)
    labels = bunch.target.astype(np.int64)
    train_x, test_x, train_y, test_y = train_test_split(images, labels, test_size=DIGITS_TEST, random_state=0,
                                                        stratify=labels)
    scale = np.float32(1 / 16)
    return ImageData("digits", train_x.astype(np.float32) * scale, train_y, test_x.astype(np.float32) * scale,
                     test_y, DATASETS["digits"][1], False, _digest(train_x, train_y, test_x, test_y))


class _BatchUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) in _ALLOWED_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"names {module}.{name}, which a CIFAR batch never does")


def _batch(path: Path, label_key: bytes) -> tuple[np.ndarray, np.ndarray]:
    """``(images uint8 (N, 3, 32, 32), labels int64)`` of one CIFAR python-pickle batch."""
    data = read_bytes(path, "CIFAR batch", limit=BATCH_BYTES)
    try:
        batch = _BatchUnpickler(io.BytesIO(data), encoding="bytes").load()
    except Exception as error:  # noqa: BLE001  (any unpickling failure is a malformed file)
        raise InputError(f"CIFAR batch {path}: not a readable python-pickle batch: "
                         f"{' '.join(str(error).split()) or type(error).__name__}") from None
    if not isinstance(batch, dict) or b"data" not in batch or label_key not in batch:
        raise InputError(f"CIFAR batch {path}: a dict with keys data and {label_key.decode()} expected")
    images, labels = np.asarray(batch[b"data"]), np.asarray(batch[label_key])
    side, channels = DATASETS["cifar10"][0], IMAGE_CHANNELS["cifar10"]
    if images.dtype != np.uint8 or images.ndim != 2 or images.shape[1] != channels * side * side:
        raise InputError(f"CIFAR batch {path}: data must be uint8 of shape (N, {channels * side * side}), "
                         f"not {images.dtype} {images.shape}")
    if labels.shape != (images.shape[0],) or labels.dtype.kind not in "iu":
        raise InputError(f"CIFAR batch {path}: {label_key.decode()} must be {images.shape[0]} integers")
    return images.reshape(-1, channels, side, side), labels.astype(np.int64)


def _cifar(name: str, data_dir: str | os.PathLike[str] | None) -> ImageData:
    folder_name, train_batches, test_batch, label_key = _CIFAR[name]
    if data_dir is None:
        raise InputError(f"--data-dir: {name} needs the folder holding {folder_name} (nothing is downloaded)")
    root = Path(data_dir)
    if not root.is_dir():
        raise InputError(f"--data-dir {root}: no such folder")
    folder = root if root.name == folder_name or not (root / folder_name).is_dir() else root / folder_name
    classes = DATASETS[name][1]
    parts = [_batch(folder / batch, label_key) for batch in (*train_batches, test_batch)]
    train_x = np.concatenate([images for images, _ in parts[:-1]])
    train_y = np.concatenate([labels for _, labels in parts[:-1]])
    test_x, test_y = parts[-1]
    for labels, batch in ((train_y, train_batches[0]), (test_y, test_batch)):
        if labels.size and not 0 <= labels.min() <= labels.max() < classes:
            raise InputError(f"CIFAR batch {folder / batch}: labels must be in 0..{classes - 1}")
    digest = _digest(train_x, train_y, test_x, test_y)
    train = train_x.astype(np.float32) / np.float32(255)
    mean = train.mean(axis=(0, 2, 3), keepdims=True)
    std = train.std(axis=(0, 2, 3), keepdims=True) + np.float32(1e-6)
    normalize = lambda images: ((images.astype(np.float32) / np.float32(255) - mean) / std).astype(np.float32)  # noqa: E731
    return ImageData(name, normalize(train_x), train_y, normalize(test_x), test_y, classes, True, digest)


def load_data(name: str, data_dir: str | os.PathLike[str] | None = None) -> ImageData:
    """The dataset ``name`` (see the module notes), read from ``data_dir`` for CIFAR.

    Raises
    ------
    InputError
        An unknown dataset, a missing folder, a missing or malformed batch.
    """
    if name == "digits":
        return _digits()
    if name in _CIFAR:
        return _cifar(name, data_dir)
    raise InputError(f"--dataset: unknown dataset {name!r}; allowed: {', '.join(DATASET_NAMES)}")
