"""Layer tables against the papers' published totals, shape chaining, and the CLI."""

import json

import pytest

from quidam.errors import ConfigError
from quidam.workloads import ConvLayer, get_network, parse_layer_ref
from quidam_cli import quidam

# (network, dataset) -> (MACs, weights) as published: VGG-16 15.5 GMAC / 138 M
# (Simonyan & Zisserman; Sze et al. 2017 Table III); ResNet-34 3.6 GFLOP(MAC) /
# 21.8 M, ResNet-50 (v1.5) 4.1 GMAC / 25.5 M (He et al. Table 1; torchvision);
# ResNet-20 0.27 M and ResNet-56 0.85 M parameters (He et al. Table 6), 41 M and
# 125 M MACs.
PUBLISHED = {
    ("vgg16", "imagenet"): (15.5e9, 138e6),
    ("resnet34", "imagenet"): (3.6e9, 21.8e6),
    ("resnet50", "imagenet"): (4.1e9, 25.5e6),
    ("resnet20", "cifar10"): (41e6, 0.27e6),
    ("resnet56", "cifar10"): (125e6, 0.85e6),
}


@pytest.mark.parametrize("name, dataset", PUBLISHED)
def test_totals_match_the_papers(name, dataset):
    macs, weights = PUBLISHED[name, dataset]
    net = get_network(name, dataset)
    assert net.macs == pytest.approx(macs, rel=0.02)
    assert net.weights == pytest.approx(weights, rel=0.02)


def test_layer_counts():
    assert len(get_network("vgg16").layers) == 16
    # conv1 + 2 convs per block + 2 projection shortcuts + fc
    assert len(get_network("resnet20").layers) == 1 + 2 * 9 + 2 + 1
    assert len(get_network("resnet56").layers) == 1 + 2 * 27 + 2 + 1
    assert len(get_network("resnet50").layers) == 1 + 3 * 16 + 4 + 1


@pytest.mark.parametrize("name", ["resnet20", "resnet56", "resnet34", "resnet50"])
def test_resnet_shapes_chain(name):
    """Every main-path layer reads what the previous main-path layer wrote."""
    layers = [layer for layer in get_network(name).layers if not layer.name.endswith("shortcut")]
    for before, after in zip(layers, layers[1:-1]):
        if after.name.startswith("conv2_1") and before.name == "conv1":
            assert (after.H, after.C) == (before.E // 2, before.M)  # 3x3/2 max pool
        else:
            assert (after.C, after.H, after.W) == (before.M, before.E, before.F), (before.name, after.name)


def test_vgg_cifar_variant_and_classes():
    net = get_network("vgg16", "cifar100")
    assert net.layers[0].H == 32 and net.layers[-2].E == 2
    assert (net.layers[-1].C, net.layers[-1].M) == (512, 100)


def test_output_size_formula():
    layer = ConvLayer("x", C=16, M=32, H=32, W=32, R=3, S=3, stride=2, padding=1)
    assert (layer.E, layer.F) == (16, 16)
    assert ConvLayer("y", C=16, M=32, H=32, W=32, R=1, S=1, stride=2).E == 16


def test_scaled_keeps_the_spatial_shape():
    layer = get_network("vgg16").layers[2].scaled(0.125)
    assert (layer.C, layer.M, layer.H, layer.R) == (8, 16, 112, 3)


@pytest.mark.parametrize("call, message", [
    (lambda: get_network("alexnet"), "unknown workload 'alexnet'"),
    (lambda: get_network("resnet50", "cifar10"), "defined for datasets imagenet"),
    (lambda: parse_layer_ref("resnet20:99"), "layers 0..21"),
    (lambda: parse_layer_ref("resnet20"), "NET:INDEX"),
    (lambda: ConvLayer("z", C=0, M=1, H=4, W=4, R=3, S=3), "C must be a positive integer"),
    (lambda: ConvLayer("z", C=1, M=1, H=2, W=2, R=3, S=3), "does not fit"),
])
def test_bad_workload_requests(call, message):
    with pytest.raises(ConfigError, match=message):
        call()


def test_cli_list_and_show():
    listing = quidam("workloads", "list")
    assert listing.returncode == 0 and "resnet56" in listing.stdout and "cifar100" in listing.stdout
    shown = quidam("workloads", "show", "resnet20", "--json")
    data = json.loads(shown.stdout)
    assert data["macs"] == get_network("resnet20").macs
    assert data["layers"][0] == {"index": 0, "name": "conv1", "C": 3, "M": 16, "H": 32, "W": 32, "R": 3, "S": 3,
                                 "stride": 1, "padding": 1, "E": 32, "F": 32, "MACs": 442368}
    table = quidam("workloads", "show", "vgg16", "--dataset", "cifar10")
    assert table.returncode == 0 and "conv5_3" in table.stdout


def test_cli_unknown_network_exits_2():
    done = quidam("workloads", "show", "alexnet")
    assert done.returncode == 2 and "unknown workload" in done.stderr and "Traceback" not in done.stderr
