"""How much of a PE's sequencer energy follows the broadcast buses: the PE block replayed with its row never active.

The PE block point of a PE type and scratchpad depths (:func:`quidam.characterize.blocks.characterize_block`:
the 2 x 2 recording's PE 0_0, replayed in full and idle) is replayed twice more through its own netlist with
the flow's power stage: ``listen``, the recorded inputs with ``rows_config.active`` held 0 after reset (the PE
hears every bus beat and reduction token but takes part in no pass: a PE of an unused row), and ``bus``, also
with the reduction tokens held off. Writes each block's dynamic power (uW) in the four replays and the beats
of each input bus into ``--out`` (one entry per PE, merged, written atomically).

Usage::

    python bench/pe_listening.py int16 12 64 16 [--runs RUNS] [--yosys quidam-yosys]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

from quidam.characterize import blocks, flow, synth
from quidam.config import parse_config
from quidam.files import write_json
from quidam.models.composed import PE_BLOCKS
from quidam.rtl_gen.array_bus import ArrayBuses

RESULTS = Path(__file__).parent / "results" / "pe-listening.json"


class _Silenced:
    """The PE's recorded replay with ``rows_config.active`` cleared (and, ``tokens_off``, the token bus at 0)."""

    def __init__(self, replay, active, tokens_off: bool):
        self.replay, self.active, self.tokens_off = replay, active, tokens_off

    def resolve(self, stage_dir):
        stimulus = self.replay.resolve(stage_dir)
        names = [name for name, _ in stimulus.inputs]
        config_port, token_port = names.index("rows_config"), names.index("token")
        mask = ((1 << self.active.width) - 1) << self.active.offset

        def silenced(vector):
            vector = list(vector)
            vector[config_port] &= ~mask
            if self.tokens_off:
                vector[token_port] = 0
            return tuple(vector)

        start = stimulus.measure_from
        vectors = stimulus.vectors[:start] + tuple(silenced(vector) for vector in stimulus.vectors[start:])
        return dataclasses.replace(stimulus, vectors=vectors, check_port=None, valid_port=None, expected=(), ops=1,
                                   events=(("cycles", stimulus.measure_cycles),))


def pe_listening(pe_type: str, depths: tuple[int, int, int], runs: Path, yosys: str | None) -> dict:
    config = parse_config({**blocks.BASE, "pe_type": pe_type, **dict(zip(blocks.DEPTHS, depths))})
    point = blocks.BlockPoint("pe", config)
    metrics, _ = blocks.characterize_block(point, runs_root=runs, yosys=yosys)
    run = Path(metrics["run_dir"])
    design = blocks.block_design(point, runs.resolve() / flow.PLATFORM)
    _, library_gz, macros = flow._locate(design, None, runs, yosys)
    liberty = synth.uncompressed_liberty(library_gz, run.parent / "_liberty")
    active = ArrayBuses(config).rows_config["active"]
    powers = {}
    for name, tokens_off in (("listen", False), ("bus", True)):
        powers[name] = flow._power(design, _Silenced(design.stimulus, active, tokens_off), run / "3_power" / name,
                                   run / "0_rtl" / "pe.v", run / "1_synth" / "netlist.v", run / "2_sta", liberty,
                                   macros, yosys)
    full = design.stimulus.resolve(run / "3_power")
    window = full.vectors[full.measure_from:]
    beats = {name: sum(vector[index] & 1 for vector in window) for index, (name, _) in enumerate(full.inputs)}
    return {"pe_type": pe_type, "depths": list(depths), "design_id": metrics["design_id"],
            "cycles": metrics["workload__cycles"], "mac_in_valid": metrics["workload__mac"], "beats": beats,
            "dynamic_uw": {block: {"full": metrics[f"power__block__{block}__dynamic_w"] * 1e6,
                                   "idle": metrics[f"variant__idle__power__block__{block}__dynamic_w"] * 1e6,
                                   **{name: found[f"power__block__{block}__dynamic_w"] * 1e6
                                      for name, found in powers.items()}}
                           for block in PE_BLOCKS}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pe_type")
    parser.add_argument("depths", type=int, nargs=3, metavar="DEPTH", help="ifmap, filter and psum scratchpad depths")
    parser.add_argument("--runs", type=Path, default=Path("runs"))
    parser.add_argument("--yosys", default=None)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    entry = pe_listening(args.pe_type, tuple(args.depths), args.runs, args.yosys)
    results = json.loads(args.out.read_text()) if args.out.exists() else {}
    results[f"{args.pe_type} {'/'.join(map(str, args.depths))}"] = entry
    write_json(args.out, dict(sorted(results.items())))
    print(json.dumps(entry, indent=2))


if __name__ == "__main__":
    main()
