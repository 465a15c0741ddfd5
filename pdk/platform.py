"""The Nangate45 platform's settings for a flow: driver, load, buffer cell and fanout limit.

These are facts a flow takes from the platform, as OpenROAD-flow-scripts keeps
them in ``flow/platforms/nangate45/config.mk`` (``ABC_DRIVER_CELL``,
``ABC_LOAD_IN_FF``) rather than in its scripts; :mod:`quidam.characterize`
reads them from here (ABC's constraints, the SDC's input drivers, the fanout
repair of the mapped netlist).

The fanout limit is that of a placement-free flow's repair of high-fanout nets
(OpenROAD's ``repair_design`` fixes them against the Liberty limits): a
``BUF_X4`` (input 3.40 fF, at most 242 fF of load) drives at most
:data:`MAX_FANOUT` pins: 16 fakeram45 pins of 5 fF or 16 buffer inputs, 80 fF
at most, about a tenth of a nanosecond, and well inside its limit.
"""

from __future__ import annotations

__all__ = ["DRIVER_CELL", "DRIVER_PIN", "LOAD_FF", "FANOUT_BUFFER", "FANOUT_BUFFER_PINS", "MAX_FANOUT"]

#: The cell assumed to drive a block's inputs (ORFS ``ABC_DRIVER_CELL``), and its output pin.
DRIVER_CELL = "BUF_X1"
DRIVER_PIN = "Z"

#: The load on a block's outputs that ABC maps against, fF (ORFS ``ABC_LOAD_IN_FF``).
LOAD_FF = 3.898

#: The buffer of the fanout trees, and its input and output pins.
FANOUT_BUFFER = "BUF_X4"
FANOUT_BUFFER_PINS = ("A", "Z")

#: Most pins a net drives after fanout repair.
MAX_FANOUT = 16
