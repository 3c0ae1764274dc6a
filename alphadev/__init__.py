"""alphadev: discover short, fast, branchless sorting kernels by playing an assembly game."""

__version__ = "0.1.0"
