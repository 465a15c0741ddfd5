"""DNN workloads as layer tables defined in code from the papers (no downloads).

Fully connected layers are 1x1 convolutions on a 1x1 feature map; pooling has
no MACs and only shows in the spatial size of the layer that follows it.
"""

from .layer import ConvLayer
from .networks import NETWORKS, Network, get_network, parse_layer_ref

__all__ = ["ConvLayer", "NETWORKS", "Network", "get_network", "parse_layer_ref"]
