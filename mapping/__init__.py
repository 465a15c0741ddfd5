"""Mapping a convolution layer onto the row-stationary accelerator.

:mod:`~quidam.mapping.commands` defines the command words the controller
executes, :mod:`~quidam.mapping.mapper` folds a layer into passes and emits
them as a :class:`~quidam.mapping.schedule.Schedule`, and
:mod:`~quidam.mapping.model` counts the schedule's cycles and accesses
exactly as the RTL spends them. :mod:`~quidam.mapping.dram_image` lays the
operands out in off-chip memory the way the schedule reads them.
"""

from .commands import CommandFormat, DramRead, Pass
from .mapper import MappingError, map_layer
from .model import ACCESS_KEYS, Performance, evaluate
from .schedule import DramLayout, Schedule

__all__ = ["ACCESS_KEYS", "CommandFormat", "DramLayout", "DramRead", "MappingError", "Pass",
           "Performance", "Schedule", "evaluate", "map_layer"]
