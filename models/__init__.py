"""PPA models fitted to characterization data, standing in for synthesis during exploration."""
