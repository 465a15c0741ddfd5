"""Models of the blocks that grow with the array and the GLB: the GLB and the controller.

The PE blocks are characterized at every scratchpad depth the explorations
visit and are read as they are (:mod:`quidam.models.composed`). The GLB and
the controller depend on the array's columns, the GLB's size and banks and
the psum scratchpad's depth: far too many combinations to characterize each.
So each figure of theirs is a non-negative linear function of the few
structural quantities the block is built of (:data:`FEATURES`), read from
the generator itself, fitted per PE type on that type's characterized rows:

* GLB: its fakeram45 macros (area and leakage exact from the PDK's Liberty
  files, the fit is the logic around them; a write reaches every macro's
  data and address pins), its banks, its psum lanes, and the macros stacked
  in one bank (its decoder and output multiplexer);
* controller: the bits of its drain FIFO (flip-flops: ``drain_entries`` x
  ``drain_words`` words, :class:`~quidam.rtl_gen.controller.Controller`),
  its psum lanes and the array's columns.

:class:`BlockModel` is a scikit-learn-style estimator (``fit`` on a block
dataset's rows, ``predict`` on configurations); ``loo_errors_`` are its
leave-one-out relative errors on the rows it was fitted on, and
:meth:`BlockModel.outside` names the features of a configuration outside
the characterized range (a GLB bank of more macros than the characterized
ones is one).
"""

from __future__ import annotations

import functools
from typing import Any, Callable

import numpy as np
from sklearn.linear_model import LinearRegression
from sklearn.model_selection import LeaveOneOut, cross_val_predict

from quidam.config import PE_TYPES, AcceleratorConfig, parse_config
from quidam.mapping.commands import CommandFormat
from quidam.errors import QuidamError

from .features import macro_inventory

__all__ = ["FEATURES", "RANGE_CHECKED", "TARGETS", "BlockModel", "block_config"]


@functools.lru_cache(maxsize=None)
def _drain_fifo_bits(config: AcceleratorConfig) -> int:
    from quidam.dse.points import timing_of
    from quidam.rtl_gen.controller import Controller
    from quidam.rtl_gen.glb import GlobalBuffer

    timing = timing_of(config)
    glb = GlobalBuffer(config)
    controller = Controller(config, result_delay=timing["result_delay"], mac_latency=timing["mac_latency"],
                            glb_addr_bits=glb.addr_bits, glb_granularity=glb.granularity)
    for built in (glb, controller):   # built only to read their properties
        built._MustUse__silence = True
    return controller.drain_entries * controller.drain_words * config.glb_word_bits


def _fifo_bits(config: AcceleratorConfig) -> float:
    # The drain FIFO depends on the MAC and widths, the array's shape, the psum scratchpad and the GLB's banks
    # and word (Controller.drain_entries and drain_words: the psum lanes, the result delay), not on the GLB's
    # size, the other scratchpads or the off-chip bandwidth: one controller per such configuration is built,
    # with 1 KiB a bank and the other fields at their defaults.
    return _drain_fifo_bits(AcceleratorConfig(
        pe_type=config.pe_type, act_bits=config.act_bits, wt_bits=config.wt_bits, psum_bits=config.psum_bits,
        rows=config.rows, cols=config.cols, psum_spad_depth=config.psum_spad_depth, glb_banks=config.glb_banks,
        glb_kib=config.glb_banks, glb_word_bits=config.glb_word_bits))


def _lanes(config: AcceleratorConfig) -> float:
    return CommandFormat(config).psum_lanes


def _macros_per_bank(config: AcceleratorConfig) -> float:
    return macro_inventory(config).glb[1] / config.glb_banks


#: Per block kind: feature -> (meaning, configuration -> value).
FEATURES: dict[str, dict[str, tuple[str, Callable[[AcceleratorConfig], float]]]] = {
    "glb": {
        "one": ("1: a constant part", lambda c: 1.0),
        "macros": ("fakeram45 macros of the GLB", lambda c: macro_inventory(c).glb[1]),
        "banks": ("glb_banks", lambda c: c.glb_banks),
        "lanes": ("psum lanes (CommandFormat.psum_lanes)", _lanes),
        "macros_per_bank": ("macros stacked in one bank: its decoder and output multiplexer", _macros_per_bank),
    },
    "controller": {
        "one": ("1: the command decoder, sequencers and counters", lambda c: 1.0),
        "drain_fifo_bits": ("drain FIFO data bits (Controller.drain_entries x drain_words x word bits)", _fifo_bits),
        "lanes": ("psum lanes (CommandFormat.psum_lanes)", _lanes),
        "cols": ("the array's columns: the column counters and the drain's column sums", lambda c: c.cols),
    },
}

#: Per block kind: dataset column -> (features it is linear in, its exact part: configuration -> value or None).
TARGETS: dict[str, dict[str, tuple[tuple[str, ...], Callable[[AcceleratorConfig], float] | None]]] = {
    "glb": {
        "synth__area__total_um2": (("macros", "banks", "lanes"), lambda c: macro_inventory(c).area_um2("glb")),
        "power__total__leakage_w": (("macros", "banks"), lambda c: macro_inventory(c).leakage_w("glb")),
        "sta__timing__critical_path_ns": (("one",), None),
        "energy__idle_j": (("macros", "banks"), None),
        "energy__read_j": (("one", "lanes", "macros_per_bank"), None),
        "energy__write_j": (("one", "macros", "macros_per_bank"), None),
    },
    "controller": {
        "synth__area__total_um2": (("one", "drain_fifo_bits", "lanes", "cols"), None),
        "power__total__leakage_w": (("one", "drain_fifo_bits", "lanes", "cols"), None),
        "sta__timing__critical_path_ns": (("one",), None),
        "energy__idle_j": (("one", "drain_fifo_bits", "lanes", "cols"), None),
        "energy__active_j": (("one",), None),
    },
}

#: The features whose characterized range a configuration is checked against, per kind.
RANGE_CHECKED = {"glb": ("macros_per_bank", "lanes", "banks"), "controller": ("drain_fifo_bits", "lanes")}


def block_config(kind: str, row: dict[str, Any]) -> AcceleratorConfig:
    """A configuration with a block row's parameters (the others at their defaults; a block key holds every
    field its features read)."""
    from quidam.characterize.blocks import KINDS

    fields = {name: row[name] for name in KINDS[kind].key}
    return parse_config({"rows": 2, **fields})


class BlockModel:
    """The figures of one block kind (``glb`` or ``controller``) as fitted linear functions of its features.

    Parameters
    ----------
    kind : str
        A key of :data:`TARGETS`.

    Attributes
    ----------
    models_ : dict
        PE type (with its widths where they are free: ``int:psum_bits=24``) -> target -> fitted
        ``LinearRegression`` (non-negative coefficients, no intercept: a constant is the ``one`` feature).
    ranges_ : dict
        Likewise -> feature -> (lowest, highest) over the rows fitted.
    loo_errors_ : dict
        Likewise -> target -> leave-one-out relative errors of the rows (an empty array below three rows).
    """

    def __init__(self, kind: str):
        self.kind = kind

    def fit(self, rows: list[dict[str, Any]]) -> "BlockModel":
        if self.kind not in TARGETS:
            raise QuidamError(f"block model kind must be one of {', '.join(TARGETS)}, not {self.kind!r}")
        self.models_, self.ranges_, self.loo_errors_ = {}, {}, {}
        for group in sorted({self._group(row) for row in rows}):
            mine = [row for row in rows if self._group(row) == group]
            configs = [block_config(self.kind, row) for row in mine]
            values = self._features(configs)
            self.ranges_[group] = {name: (float(column.min()), float(column.max()))
                                   for name, column in values.items()}
            self.models_[group], self.loo_errors_[group] = {}, {}
            for target, (names, exact) in TARGETS[self.kind].items():
                X = np.column_stack([values[name] for name in names])
                offset = self._exact(exact, configs)
                y = np.array([row[target] for row in mine], dtype=np.float64)
                estimator = LinearRegression(positive=True, fit_intercept=False)
                self.models_[group][target] = estimator.fit(X, y - offset)
                if len(mine) >= 3:
                    held_out = cross_val_predict(LinearRegression(positive=True, fit_intercept=False), X, y - offset,
                                                 cv=LeaveOneOut())
                    self.loo_errors_[group][target] = (held_out + offset) / y - 1.0
                else:
                    self.loo_errors_[group][target] = np.zeros(0)
        return self

    def predict(self, configs: list[AcceleratorConfig]) -> dict[str, np.ndarray]:
        """Target -> predicted value of each configuration (all of one PE type the model was fitted on)."""
        pe_type = self._pe_type(configs)
        values = self._features(configs)
        return {target: self.models_[pe_type][target].predict(np.column_stack([values[name] for name in names]))
                + self._exact(exact, configs)
                for target, (names, exact) in TARGETS[self.kind].items()}

    def outside(self, config: AcceleratorConfig) -> list[str]:
        """The range-checked features of ``config`` outside the rows fitted, as ``name value (characterized:
        low..high)``."""
        low_high = self.ranges_[self._pe_type([config])]
        found = []
        for name in RANGE_CHECKED[self.kind]:
            value = float(FEATURES[self.kind][name][1](config))
            low, high = low_high[name]
            if not low <= value <= high:
                found.append(f"{name} {value:g} (characterized: {low:g}..{high:g})")
        return found

    def _group(self, fields: dict[str, Any] | AcceleratorConfig) -> str:
        """The rows one model is fitted on: a PE type, and for a type of free widths also the widths in the
        block's key (``int:psum_bits=24``), which change the data it sees."""
        from quidam.characterize.blocks import KINDS

        value = fields.get if isinstance(fields, dict) else functools.partial(getattr, fields)
        pe_type = value("pe_type")
        if not PE_TYPES[pe_type].free_widths:
            return pe_type
        widths = [name for name in KINDS[self.kind].widths if name != "pe_type"]
        return f"{pe_type}:" + "/".join(f"{name}={value(name)}" for name in widths)

    def _pe_type(self, configs: list[AcceleratorConfig]) -> str:
        groups = {self._group(config) for config in configs}
        if len(groups) != 1 or next(iter(groups)) not in self.models_:
            raise QuidamError(f"no {self.kind} block rows of {', '.join(sorted(groups))}: run "
                              f"`quidam characterize-blocks` for that PE type")
        return next(iter(groups))

    def _features(self, configs: list[AcceleratorConfig]) -> dict[str, np.ndarray]:
        return {name: np.array([of(config) for config in configs], dtype=np.float64)
                for name, (_, of) in FEATURES[self.kind].items()}

    @staticmethod
    def _exact(exact, configs) -> np.ndarray:
        return np.zeros(len(configs)) if exact is None else np.array([exact(c) for c in configs], dtype=np.float64)
