"""Design-space exploration: every design point on a workload, from the mapper's model and the PPA model cards."""
