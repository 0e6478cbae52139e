"""snapkit-files: oracles that snapshot data already sitting in files or behind URLs."""

__version__ = "0.1.0"
