"""alphadev: discover short, fast, branchless sorting kernels by playing an assembly game.

Importing the package registers the Gymnasium environment ``alphadev/AssemblyGame-v0``.
"""

import gymnasium as _gym

__version__ = "0.1.0"

if "alphadev/AssemblyGame-v0" not in _gym.registry:
    _gym.register(id="alphadev/AssemblyGame-v0", entry_point="alphadev.env:AssemblyGameEnv")
