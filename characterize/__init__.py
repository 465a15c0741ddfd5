"""Characterization flow: Yosys synthesis to Nangate45, OpenSTA timing, simulation-driven power.

One design point (a Verilog top, its parameters, clock, SRAM macros and
workload: a :class:`~quidam.characterize.design.Design`) goes through numbered
stages in its own run folder ``runs/nangate45/<design id>/`` and ends in
``metrics.json``; see :func:`~quidam.characterize.flow.characterize_point`.

* :mod:`~quidam.characterize.flow`: the point, its stages, failure records.
* :mod:`~quidam.characterize.run_dir`: folder layout, design id, atomic writes, cache.
* :mod:`~quidam.characterize.synth`: ``1_synth``, Yosys and the area.
* :mod:`~quidam.characterize.sta`: ``2_sta``, constraints, worst slack, fmax.
* :mod:`~quidam.characterize.activity`: gate-level simulation and pin toggle rates.
* :mod:`~quidam.characterize.power`: ``3_power``, power with the measured activity.
* :mod:`~quidam.characterize.cells`: the Liberty facts the flow needs.
* :mod:`~quidam.characterize.tools`: finding and running Yosys, OpenSTA, Icarus.
* :mod:`~quidam.characterize.design`, :mod:`~quidam.characterize.mac`: what is
  characterized; the MAC unit of a configuration with its workload.
* :mod:`~quidam.characterize.points`: what a sweep point characterizes
  (:func:`~quidam.characterize.points.design_for`) and sweep definitions.
* :mod:`~quidam.characterize.sweep`: sweeps of points on Dask, cached and resumable.
* :mod:`~quidam.characterize.dataset`: the per-PE-type CSV dataset.
* :mod:`~quidam.characterize.cli`: ``quidam characterize`` and ``quidam characterize-mac``.
"""

from .activity import Stimulus
from .dataset import COLUMNS, update_dataset
from .design import Design, design_from_verilog
from .flow import PLATFORM, PointFailed, characterize_point
from .mac import mac_design
from .points import design_for, load_sweep
from .sweep import SweepSummary, run_sweep

__all__ = ["COLUMNS", "PLATFORM", "Design", "PointFailed", "Stimulus", "SweepSummary", "characterize_point",
           "design_for", "design_from_verilog", "load_sweep", "mac_design", "run_sweep", "update_dataset"]
