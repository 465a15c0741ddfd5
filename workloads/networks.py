"""Layer tables of the evaluated networks, built from the shapes in their papers.

- VGG-16: Simonyan & Zisserman, ICLR 2015 (configuration D). ImageNet: 224x224
  input, three FC layers 25088-4096-4096-classes. CIFAR: the same 13 conv
  layers on 32x32 inputs with one FC layer 512-classes (the common CIFAR
  adaptation, e.g. kuangliu/pytorch-cifar).
- ResNet-20/56: He et al., CVPR 2016, section 4.2: a 3x3 conv of 16 channels,
  then 3 stages of n = 3 or 9 basic blocks with 16, 32, 64 channels on 32x32,
  16x16, 8x8 maps, FC 64-classes. Down-sampling blocks use 1x1 stride-2
  projection shortcuts (option B), which are real layers of the workload.
- ResNet-34/50: He et al., Table 1: 7x7/2 conv, 3x3/2 max pool, stages of
  [3, 4, 6, 3] basic (34) or bottleneck (50) blocks, FC 512 (2048)-1000.
  ResNet-50 puts the stride on the 3x3 conv of a bottleneck (torchvision's
  "v1.5"); projection shortcuts on the first block of every stage.
- Compact forms for scikit-learn's 8x8 digits (1 channel, 10 classes), the
  networks whose accuracy quidam trains in every PE format (:mod:`quidam.accuracy`):
  ResNet-8 is the same CIFAR ResNet with n = 1 block per stage (16, 32, 64
  channels on 8x8, 4x4, 2x2 maps); VGG-8 keeps VGG's 3x3 stages with 2x2 max
  pools, 16-16 / 32-32 / 64-64-64 channels on 8x8, 4x4, 2x2 maps, FC 64-classes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from quidam.errors import ConfigError

from .layer import ConvLayer

__all__ = ["DATASETS", "IMAGE_CHANNELS", "NETWORKS", "Network", "get_network", "parse_layer_ref"]

#: Dataset -> (input side, classes).
DATASETS = {"cifar10": (32, 10), "cifar100": (32, 100), "imagenet": (224, 1000), "digits": (8, 10)}
#: Dataset -> input channels.
IMAGE_CHANNELS = {"cifar10": 3, "cifar100": 3, "imagenet": 3, "digits": 1}


@dataclass(frozen=True)
class Network:
    """A network evaluated on one dataset: its MAC layers in execution order.

    Members
    -------
    name : str
    dataset : str
    layers : tuple of ConvLayer
    macs : int
        Multiply-accumulates for one inference.
    """

    name: str
    dataset: str
    layers: tuple[ConvLayer, ...]

    @property
    def macs(self) -> int:
        return sum(layer.macs for layer in self.layers)

    @property
    def weights(self) -> int:
        return sum(layer.weights for layer in self.layers)

    def layer(self, index: int) -> ConvLayer:
        """The layer at ``index`` (0-based, as ``quidam workloads show`` numbers them)."""
        if not isinstance(index, int) or not 0 <= index < len(self.layers):
            raise ConfigError(f"{self.name} ({self.dataset}) has layers 0..{len(self.layers) - 1}, not {index!r}")
        return self.layers[index]


def _fc(name: str, inputs: int, outputs: int) -> ConvLayer:
    return ConvLayer(name, C=inputs, M=outputs, H=1, W=1, R=1, S=1)


_VGG16_STAGES = ((64, 2), (128, 2), (256, 3), (512, 3), (512, 3))
_VGG8_STAGES = ((16, 2), (32, 2), (64, 3))


def _vgg(stages, dataset: str) -> list[ConvLayer]:
    size, classes = DATASETS[dataset]
    layers, channels = [], IMAGE_CHANNELS[dataset]
    for stage, (width, count) in enumerate(stages, start=1):
        for i in range(1, count + 1):
            layers.append(ConvLayer(f"conv{stage}_{i}", C=channels, M=width, H=size, W=size, R=3, S=3, padding=1))
            channels = width
        size //= 2  # 2x2 max pool
    if size == 7:
        layers += [_fc("fc6", 512 * 7 * 7, 4096), _fc("fc7", 4096, 4096), _fc("fc8", 4096, classes)]
    else:
        layers.append(_fc("fc", channels * size * size, classes))
    return layers


def _resnet_cifar(blocks_per_stage: int, dataset: str) -> list[ConvLayer]:
    size, classes = DATASETS[dataset]
    layers = [ConvLayer("conv1", C=IMAGE_CHANNELS[dataset], M=16, H=size, W=size, R=3, S=3, padding=1)]
    channels = 16
    for stage, width in enumerate((16, 32, 64), start=1):
        for block in range(1, blocks_per_stage + 1):
            stride = 2 if stage > 1 and block == 1 else 1
            prefix = f"s{stage}b{block}"
            layers.append(ConvLayer(f"{prefix}_conv1", C=channels, M=width, H=size, W=size, R=3, S=3,
                                    stride=stride, padding=1))
            out = size // stride
            layers.append(ConvLayer(f"{prefix}_conv2", C=width, M=width, H=out, W=out, R=3, S=3, padding=1))
            if stride != 1 or channels != width:
                layers.append(ConvLayer(f"{prefix}_shortcut", C=channels, M=width, H=size, W=size, R=1, S=1,
                                        stride=stride))
            channels, size = width, out
    layers.append(_fc("fc", 64, classes))
    return layers


def _resnet_imagenet(bottleneck: bool, classes: int) -> list[ConvLayer]:
    layers = [ConvLayer("conv1", C=3, M=64, H=224, W=224, R=7, S=7, stride=2, padding=3)]
    channels, size = 64, 56  # after the 3x3/2 max pool
    expansion = 4 if bottleneck else 1
    for stage, (width, count) in enumerate(zip((64, 128, 256, 512), (3, 4, 6, 3)), start=2):
        for block in range(1, count + 1):
            stride = 2 if stage > 2 and block == 1 else 1
            prefix = f"conv{stage}_{block}"
            out = size // stride
            if bottleneck:
                layers += [
                    ConvLayer(f"{prefix}_a", C=channels, M=width, H=size, W=size, R=1, S=1),
                    ConvLayer(f"{prefix}_b", C=width, M=width, H=size, W=size, R=3, S=3, stride=stride, padding=1),
                    ConvLayer(f"{prefix}_c", C=width, M=width * 4, H=out, W=out, R=1, S=1),
                ]
            else:
                layers += [
                    ConvLayer(f"{prefix}_a", C=channels, M=width, H=size, W=size, R=3, S=3, stride=stride, padding=1),
                    ConvLayer(f"{prefix}_b", C=width, M=width, H=out, W=out, R=3, S=3, padding=1),
                ]
            if stride != 1 or channels != width * expansion:
                layers.append(ConvLayer(f"{prefix}_shortcut", C=channels, M=width * expansion, H=size, W=size,
                                        R=1, S=1, stride=stride))
            channels, size = width * expansion, out
    layers.append(_fc("fc", channels, classes))
    return layers


# name -> (builder(dataset) -> layers, datasets it is defined for, default dataset)
NETWORKS = {
    "vgg16": (lambda d: _vgg(_VGG16_STAGES, d), ("imagenet", "cifar10", "cifar100"), "imagenet"),
    "resnet20": (lambda d: _resnet_cifar(3, d), ("cifar10", "cifar100"), "cifar10"),
    "resnet56": (lambda d: _resnet_cifar(9, d), ("cifar10", "cifar100"), "cifar10"),
    "resnet34": (lambda d: _resnet_imagenet(False, DATASETS[d][1]), ("imagenet",), "imagenet"),
    "resnet50": (lambda d: _resnet_imagenet(True, DATASETS[d][1]), ("imagenet",), "imagenet"),
    "resnet8": (lambda d: _resnet_cifar(1, d), ("digits", "cifar10", "cifar100"), "digits"),
    "vgg8": (lambda d: _vgg(_VGG8_STAGES, d), ("digits", "cifar10", "cifar100"), "digits"),
}


def get_network(name: str, dataset: str | None = None) -> Network:
    """The layer table of network ``name`` on ``dataset`` (its default dataset when omitted).

    Raises
    ------
    ConfigError
        For an unknown network or a dataset the network is not defined for.
    """
    if name not in NETWORKS:
        raise ConfigError(f"unknown workload {name!r}; allowed: {', '.join(NETWORKS)}")
    build, datasets, default = NETWORKS[name]
    dataset = default if dataset is None else dataset
    if dataset not in datasets:
        raise ConfigError(f"workload {name} is defined for datasets {', '.join(datasets)}, not {dataset!r}")
    return Network(name, dataset, tuple(build(dataset)))


def parse_layer_ref(ref: str, dataset: str | None = None) -> tuple[Network, ConvLayer]:
    """Resolve ``NET:INDEX`` (e.g. ``resnet20:3``) to its network and layer."""
    match = re.fullmatch(r"([a-z0-9_-]+):(\d+)", ref)
    if not match:
        raise ConfigError(f"layer must be written NET:INDEX (e.g. resnet20:3), not {ref[:40]!r}")
    network, digits = get_network(match.group(1), dataset), match.group(2)
    if len(digits) > 9:   # no network has a billion layers; int() of thousands of digits is refused by Python
        raise ConfigError(f"{network.name} ({network.dataset}) has layers 0..{len(network.layers) - 1}, "
                          f"not {digits[:12]}... ({len(digits)} digits)")
    return network, network.layer(int(digits))
