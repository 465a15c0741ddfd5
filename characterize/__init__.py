"""Characterization flow: Yosys synthesis to Nangate45, OpenSTA timing and power, sweeps."""
