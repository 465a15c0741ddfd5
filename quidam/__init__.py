"""quidam: quantization-aware DNN accelerator generator and PPA characterization.

The pipeline lives in the subpackages, in the order data flows through them:
:mod:`quidam.rtl_gen` (Amaranth generators) -> :mod:`quidam.testbenches` (cocotb)
-> :mod:`quidam.characterize` (Yosys, OpenSTA) -> :mod:`quidam.models` (PPA
regression), with :mod:`quidam.pdk` holding process facts only and
:mod:`quidam.config` the one accelerator configuration that drives them all.
"""

from importlib.metadata import PackageNotFoundError, version as _version

from .config import AcceleratorConfig, load_config
from .errors import ConfigError, QuidamError

try:
    __version__ = _version("quidam")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

__all__ = ["AcceleratorConfig", "ConfigError", "QuidamError", "__version__", "load_config"]
