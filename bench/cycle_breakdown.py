"""Where a network's cycles go on one configuration: each phase's share, from the analytical model.

Usage: python bench/cycle_breakdown.py [--config configs/eyeriss.yaml] [--network resnet20] [--dataset D]

Every layer is mapped (:func:`quidam.mapping.map_layer`) and each command's cycles are split into the phases of
the timing contract (``docs/architecture.md``): pass configuration, filter load, compute (``q*S*slots +
mac_latency + 1`` per column), reduction (``mapping.model.reduction_cycles`` per column), ifmap feed and
per-column overhead (the rest of a pass, were each reduction to run alone), the draining passes' tails
(their final sums go off chip beside the reductions), off-chip reads. What runs
beside something else is counted in both and reported as hidden: the reductions beside the next column's compute
(the pass's cycles with ``gap`` the whole reduction, less its cycles) and the reads beside the passes (the
commands' cycles less the schedule's). Shares are of the schedule's cycles (``evaluate``, exact to the RTL).
"""

from __future__ import annotations

import argparse
from collections import Counter
from dataclasses import replace

from quidam.config import load_config
from quidam.mapping import evaluate, map_layer
from quidam.mapping.commands import DramRead
from quidam.mapping.model import command_cycles, drain_tail, reduction_cycles
from quidam.workloads.networks import get_network

__all__ = ["breakdown"]


def breakdown(config, network) -> tuple[Counter, int]:
    """Phase -> cycles summed over the commands of every layer, and the schedules' cycles."""
    phases, cycles = Counter(), 0
    for layer in network.layers:
        schedule = map_layer(layer, config)
        timing = schedule.timing
        layer_cycles, commands = evaluate(schedule).cycles, 0
        for command in schedule.commands:
            spent = command_cycles(command, config, timing)
            commands += spent
            if isinstance(command, DramRead):
                phases["off-chip reads"] += spent
            else:
                filters = command.filter_groups * command.p * command.qs
                compute = command.F * (command.qs * command.slots + timing["mac_latency"] + 1)
                alone = reduction_cycles(command.groups * command.p, command.ii, timing["result_delay"])
                serial = command_cycles(replace(command, gap=alone), config, timing)
                tail = int(drain_tail(drain=command.drain, wide=command.wide, p=command.p, cols=command.cols,
                                      F=command.F, vp=config.glb_word_bits // config.psum_bits,
                                      drain_latency=timing["drain_latency"]))
                phases["configuration"] += 1 + config.rows
                phases["filter load"] += filters
                phases["compute"] += compute
                phases["reduction"] += command.F * alone
                phases["drain tail"] += tail
                phases["ifmap feed and column steps"] += (serial - 1 - config.rows - filters - compute
                                                          - command.F * alone - tail)
                phases["hidden (reductions beside compute)"] -= serial - spent
        phases["hidden (reads beside passes)"] -= commands - layer_cycles
        cycles += layer_cycles
    return phases, cycles


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/eyeriss.yaml")
    parser.add_argument("--network", default="resnet20")
    parser.add_argument("--dataset", default=None)
    args = parser.parse_args()
    phases, cycles = breakdown(load_config(args.config), get_network(args.network, args.dataset))
    print(f"{args.network} on {args.config}: {cycles:,} cycles")
    for name, spent in phases.most_common():
        print(f"  {name:36s} {spent:>13,}  {spent / cycles:6.1%}")
    assert sum(phases.values()) == cycles, "the phases do not add up to the schedules' cycles"


if __name__ == "__main__":
    main()
