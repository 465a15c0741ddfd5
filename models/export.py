"""The characterized blocks in the forms two peer tools read: ZigZag and Accelergy.

* **ZigZag** (``zigzag-dse`` 3.9): :func:`zigzag_accelerator` describes one
  configuration as a ZigZag accelerator (a memory per scratchpad, the GLB,
  off-chip memory, and the PE array as the operational array), its costs
  composed from the blocks (:class:`~quidam.models.composed.ComposedModel`);
  :func:`zigzag_mapping` is the row-stationary spatial unrolling (output rows
  across the columns, filter rows and channel sets down the rows) and
  :func:`zigzag_workload` one layer in ZigZag's loop notation. ZigZag costs
  accesses only: the blocks' idle energy per cycle and their leakage have no
  place in it, so its energies are below quidam's for the same counts.
* **Accelergy** (table-based library plug-in): :func:`accelergy_tables`, one
  CSV per block kind named after it, ``attribute..., energy, area, action``
  rows (pJ, um^2), ``technology`` in nm, one row per characterized parameter
  set and action (``idle`` is the energy of one clocked cycle without one).

Every figure is a block's own, measured by ``quidam characterize-blocks``
(``data/characterization/blocks/``). The GLB and the large scratchpads are
fakeram45 macros: their energy and area are the macros' Liberty and LEF
figures, which are CACTI-derived estimates, not silicon.
"""

from __future__ import annotations

from typing import Any

from quidam.characterize.blocks import KINDS
from quidam.config import AcceleratorConfig
from quidam.workloads.layer import ConvLayer

from .composed import PE_BLOCKS, ComposedModel, Composition

__all__ = ["ACCELERGY_ACTIONS", "TECHNOLOGY_NM", "accelergy_tables", "zigzag_accelerator", "zigzag_mapping",
           "zigzag_workload"]

#: The process node every block was characterized in (Nangate45 / FreePDK45).
TECHNOLOGY_NM = 45

#: Block kind -> the actions of its table (the block dataset's ``energy__<action>_j`` columns).
ACCELERGY_ACTIONS: dict[str, tuple[str, ...]] = {
    "mac": ("mac", "idle"),
    "ifmap_spad": ("read", "write", "idle"),
    "filter_spad": ("read", "write", "idle"),
    "psum_spad": ("read", "write", "idle"),
    "glb": ("read", "write", "idle"),
    "controller": ("active", "idle"),
    "pe": ("mac", "idle"),
}

_PJ = 1e12


def _port(name: str, kind: str, bits: int, allocation: list[str]) -> dict[str, Any]:
    return {"name": name, "type": kind, "bandwidth_min": bits, "bandwidth_max": bits, "allocation": allocation}


def _memory(size_bits: int, read_pj: float, write_pj: float, area: float, operands: list[str],
            ports: list[dict], served: list[str]) -> dict[str, Any]:
    return {"size": int(size_bits), "r_cost": read_pj, "w_cost": write_pj, "area": area, "latency": 1,
            "operands": operands, "ports": ports, "served_dimensions": served}


def zigzag_accelerator(composition: Composition, *, dram_pj_per_bit: float) -> dict[str, Any]:
    """A ZigZag 3.9 accelerator description (the YAML's content) of ``composition.config``.

    Costs are pJ per access of one port word (a scratchpad entry, a GLB word, an off-chip word of
    ``glb_word_bits`` at ``dram_pj_per_bit``), areas um^2 per instance; the operational array's unit is one
    PE's MAC and sequencer. ZigZag's operands: ``I1`` the ifmap, ``I2`` the weights, ``O`` the psums.
    """
    config = composition.config
    energy = {block: {action: value * _PJ for action, value in actions.items()}
              for block, actions in composition.energies.items()}
    per_pe = {block: composition.area_um2[block] / composition.counts(block) for block in PE_BLOCKS}
    word = config.glb_word_bits
    everything = ["I1", "I2", "O"]
    fill_all = ["I1, fh", "I1, tl", "I2, fh", "I2, tl", "O, fh", "O, tl", "O, fl", "O, th"]
    memories = {
        "ifmap_spad": _memory(config.ifmap_spad_depth * config.act_bits, energy["ifmap_spad"]["read"],
                              energy["ifmap_spad"]["write"], per_pe["ifmap_spad"], ["I1"],
                              [_port("r_port_1", "read", config.act_bits, ["I1, tl"]),
                               _port("w_port_1", "write", config.act_bits, ["I1, fh"])], []),
        "filter_spad": _memory(config.filter_spad_depth * config.wt_bits, energy["filter_spad"]["read"],
                               energy["filter_spad"]["write"], per_pe["filter_spad"], ["I2"],
                               [_port("r_port_1", "read", config.wt_bits, ["I2, tl"]),
                                _port("w_port_1", "write", config.wt_bits, ["I2, fh"])], []),
        "psum_spad": _memory(config.psum_spad_depth * config.psum_bits, energy["psum_spad"]["read"],
                             energy["psum_spad"]["write"], per_pe["psum_spad"], ["O"],
                             [_port("r_port_1", "read", config.psum_bits, ["O, tl", "O, th"]),
                              _port("w_port_1", "write", config.psum_bits, ["O, fh", "O, fl"])], []),
        "glb": _memory(config.glb_kib * 8192, energy["glb"]["read"], energy["glb"]["write"],
                       composition.area_um2["glb"], everything,
                       [_port("rw_port_1", "read_write", word, fill_all)], ["D1", "D2"]),
        "dram": _memory(1 << 40, dram_pj_per_bit * word, dram_pj_per_bit * word, 0, everything,
                        [_port("rw_port_1", "read_write", 8 * config.dram_bytes_per_cycle, fill_all)],
                        ["D1", "D2"]),
    }
    return {
        "name": f"quidam_{config.pe_type}_{config.rows}x{config.cols}",
        "memories": memories,
        "operational_array": {"unit_energy": energy["mac"]["mac"] + energy["pe_control"]["pe_control_mac"],
                              "unit_area": per_pe["mac"] + per_pe["pe_control"],
                              "dimensions": ["D1", "D2"], "sizes": [config.cols, config.rows]},
    }


def zigzag_mapping(layer: ConvLayer, config: AcceleratorConfig) -> list[dict[str, Any]]:
    """The row-stationary spatial unrolling of ``layer`` on ``config`` for ZigZag: output rows across the
    ``cols`` columns (``D1``), filter rows down the ``rows`` rows (``D2``) and, where several PE sets fit,
    channel sets beside them (a mixed unrolling: run ZigZag with ``enable_mix_spatial_mapping``)."""
    fold = min(layer.R, config.rows)
    sets = min(config.rows // fold, layer.C)
    rows = [f"FY, {fold}"] + ([f"C, {sets}"] if sets > 1 else [])
    return [{"name": "default",
             "spatial_mapping": {"D1": [f"OY, {min(layer.E, config.cols)}"], "D2": rows},
             "memory_operand_links": {"O": "O", "W": "I2", "I": "I1"}}]


def zigzag_workload(layer: ConvLayer, config: AcceleratorConfig) -> list[dict[str, Any]]:
    """``layer`` as a one-layer ZigZag workload, with ``config``'s operand widths."""
    U = layer.stride
    return [{
        "id": 0, "name": layer.name, "operator_type": "Conv",
        "equation": "O[b][k][oy][ox]+=W[k][c][fy][fx]*I[b][c][iy][ix]",
        "dimension_relations": [f"ix={U}*ox+1*fx", f"iy={U}*oy+1*fy"],
        "loop_dims": ["B", "K", "C", "OY", "OX", "FY", "FX"],
        "loop_sizes": [1, layer.M, layer.C, layer.E, layer.F, layer.R, layer.S],
        "operand_precision": {"W": config.wt_bits, "I": config.act_bits, "O": config.psum_bits,
                              "O_final": config.act_bits},
        "operand_source": {"I": 0},
        "pr_loop_dims": ["IX", "IY"], "pr_loop_sizes": [layer.W, layer.H],
        "padding": [[layer.padding, layer.padding], [layer.padding, layer.padding]],
    }]


def accelergy_tables(model: ComposedModel) -> dict[str, tuple[list[str], list[list[Any]]]]:
    """Block kind -> (header, rows) of its Accelergy library table: the kind's parameters (``technology``
    first), then ``energy`` (pJ), ``area`` (um^2) and ``action``, one row per characterized block and action."""
    tables = {}
    for kind, actions in ACCELERGY_ACTIONS.items():
        keys = list(KINDS[kind].key)
        rows = []
        for row in model.tables[kind]:
            for action in actions:
                rows.append([TECHNOLOGY_NM, *(row[name] for name in keys), row[f"energy__{action}_j"] * _PJ,
                             row["synth__area__total_um2"], action])
        tables[kind] = (["technology", *keys, "energy", "area", "action"], rows)
    return tables
