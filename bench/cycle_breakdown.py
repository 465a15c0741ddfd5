"""Where a network's cycles go on one configuration: each phase's share, from the analytical model.

Usage: python bench/cycle_breakdown.py [--config configs/eyeriss.yaml] [--network resnet20] [--dataset D]

Every layer is mapped (:func:`quidam.mapping.map_layer`) and each command's cycles are split into the phases of
the timing contract (``docs/architecture.md``): pass configuration, filter load, compute (``q*S*slots +
mac_latency + 1`` per column), reduction, ifmap feed and per-column overhead (the rest of a pass), off-chip reads
and writes. The commands' cycles add up to more than the schedule's where reads run beside the passes; the
difference is reported as hidden. Shares are of the schedule's cycles (``evaluate``, exact to the RTL).
"""

from __future__ import annotations

import argparse
from collections import Counter

from quidam.config import load_config
from quidam.mapping import evaluate, map_layer
from quidam.mapping.commands import DramRead, DramWrite
from quidam.mapping.model import command_cycles
from quidam.workloads.networks import get_network

__all__ = ["breakdown"]


def breakdown(config, network) -> tuple[Counter, int]:
    """Phase -> cycles summed over the commands of every layer, and the schedules' cycles."""
    phases, cycles = Counter(), 0
    for layer in network.layers:
        schedule = map_layer(layer, config)
        timing = schedule.timing
        cycles += evaluate(schedule).cycles
        for command in schedule.commands:
            spent = command_cycles(command, config, timing)
            if isinstance(command, DramRead):
                phases["off-chip reads"] += spent
            elif isinstance(command, DramWrite):
                phases["off-chip writes"] += spent
            else:
                filters = command.filter_groups * command.p * command.qs
                compute = command.F * (command.qs * command.slots + timing["mac_latency"] + 1)
                tokens, ii = command.groups * command.p, 1 if command.first else 2
                reduction = command.F * (ii * (tokens - 1) + timing["result_delay"] + 2)
                phases["configuration"] += 1 + config.rows
                phases["filter load"] += filters
                phases["compute"] += compute
                phases["reduction"] += reduction
                phases["ifmap feed and column steps"] += spent - 1 - config.rows - filters - compute - reduction
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
        print(f"  {name:28s} {spent:>13,}  {spent / cycles:6.1%}")
    hidden = sum(phases.values()) - cycles
    print(f"  {'hidden (reads beside passes)':28s} {-hidden:>13,}  {-hidden / cycles:6.1%}")


if __name__ == "__main__":
    main()
