"""alphadev: discover short, fast, branchless sorting kernels by playing an assembly game.

Importing the package is cheap: it loads neither Gymnasium nor torch. ``import alphadev.env``
registers the Gymnasium environment ``alphadev/AssemblyGame-v0``.
"""

__version__ = "0.1.0"
