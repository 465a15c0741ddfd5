"""Emitting generated units: parameter-free Verilog plus a ``config.json`` sidecar.

Generated Verilog has no HDL parameters: every width is fixed at generation
time and recorded in the sidecar next to the ``.v`` file, which the testbenches
and later stages read instead of re-deriving anything. Both files are written
atomically (a temporary file in the same folder, then :func:`os.replace`), so
a reader never sees half a file.
"""

from __future__ import annotations

import functools
import hashlib
from importlib.metadata import version
from pathlib import Path
from typing import Any

from amaranth.back import verilog
from amaranth.lib import wiring

from quidam import __version__
from quidam.config import AcceleratorConfig
from quidam.files import write_json, write_text

from .mac import describe, mac_for

__all__ = ["SIDECAR", "accelerator_verilog", "emit_verilog", "write_accelerator", "write_mac"]

#: File name of the sidecar written next to each generated Verilog file.
SIDECAR = "config.json"


def emit_verilog(component: wiring.Component, *, name: str) -> str:
    """Verilog text of ``component`` as top module ``name`` (ports ``clk``, ``rst`` and its members).

    Source-location attributes are left out, so the text depends only on the
    component and the tool versions, not on where the checkout lives.
    """
    return verilog.convert(component, name=name, emit_src=False)


def write_mac(config: AcceleratorConfig, out_dir: Path) -> dict[str, Any]:
    """Generate the MAC unit of ``config`` into ``out_dir/mac.v`` and ``out_dir/config.json``.

    Parameters
    ----------
    config : AcceleratorConfig
        Supplies ``pe_type``, ``act_bits``, ``wt_bits`` and ``psum_bits``.
    out_dir : Path
        Created when missing; existing ``mac.v`` and ``config.json`` are replaced.

    Returns
    -------
    dict
        The sidecar: ``unit`` (``"mac"``), ``top`` (``"mac"``), the facts of
        :func:`~quidam.rtl_gen.mac.describe` (PE type, widths, latency, ports,
        encodings, default psum width), ``verilog`` (file name and sha256)
        and ``generator`` (quidam and Amaranth versions).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    mac = mac_for(config)
    text = emit_verilog(mac, name="mac")
    write_text(out_dir / "mac.v", text)
    sidecar = {
        "unit": "mac",
        "top": "mac",
        **describe(mac, pe_type=config.pe_type),
        "verilog": {"file": "mac.v", "sha256": hashlib.sha256(text.encode()).hexdigest()},
        "generator": {"quidam": __version__, "amaranth": version("amaranth")},
    }
    write_json(out_dir / SIDECAR, sidecar)
    return sidecar


def accelerator_verilog(config: AcceleratorConfig, *, memory: str = "behavioural",
                        pdk_dir: Path | None = None) -> tuple[Any, str]:
    """The :class:`~quidam.rtl_gen.accelerator.Accelerator` of ``config`` and its Verilog (top ``accelerator``).

    ``memory`` and ``pdk_dir`` as for :func:`write_accelerator`. The last few are kept per process: the
    characterization flow cuts blocks from (or synthesizes) an accelerator's Verilog and then simulates a
    layer on the same accelerator, and converting a 16 x 16 array takes Amaranth about 45 s. Treat the
    returned accelerator as read-only.
    """
    return _accelerator_verilog(config, memory, None if pdk_dir is None else str(pdk_dir))


@functools.lru_cache(maxsize=2)
def _accelerator_verilog(config: AcceleratorConfig, memory: str, pdk_dir: str | None) -> tuple[Any, str]:
    from .accelerator import Accelerator

    shapes = ()
    if memory == "macro":
        from quidam.pdk.sram import find_macros
        shapes = [(macro.depth, macro.width) for macro in find_macros(pdk_dir)]
    accelerator = Accelerator(config, memory=memory, macro_shapes=shapes)
    return accelerator, emit_verilog(accelerator, name="accelerator")


def write_accelerator(config: AcceleratorConfig, out_dir: Path, *, memory: str = "behavioural",
                      pdk_dir: Path | None = None) -> dict[str, Any]:
    """Generate the whole accelerator of ``config`` into ``out_dir/accelerator.v`` and ``config.json``.

    With ``memory="macro"`` the GLB banks instantiate fakeram45 macros of the
    PDK (``pdk_dir``, resolved as :func:`~quidam.pdk.locate.resolve_pdk_dir`
    does); their modules are black boxes in the Verilog.

    Returns
    -------
    dict
        The sidecar: ``unit`` and ``top`` (``"accelerator"``), ``config``
        (every configuration field), ``config_hash``, ``timing`` (the
        latencies the analytical model uses), ``command_bits``, ``glb_words``,
        ``memory`` and ``macros`` (module name -> instances), ``verilog``
        (file name and sha256) and ``generator``.
    """
    from quidam.mapping.commands import CommandFormat

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    accelerator, text = accelerator_verilog(config, memory=memory, pdk_dir=pdk_dir)
    write_text(out_dir / "accelerator.v", text)
    command_format = CommandFormat(config)
    sidecar = {
        "unit": "accelerator",
        "top": "accelerator",
        "config": config.to_dict(),
        "config_hash": config.config_hash,
        "timing": accelerator.timing,
        "command_bits": command_format.width,
        "glb_words": command_format.glb_words,
        "memory": memory,
        "macros": accelerator.macros,
        "verilog": {"file": "accelerator.v", "sha256": hashlib.sha256(text.encode()).hexdigest()},
        "generator": {"quidam": __version__, "amaranth": version("amaranth")},
    }
    write_json(out_dir / SIDECAR, sidecar)
    return sidecar
