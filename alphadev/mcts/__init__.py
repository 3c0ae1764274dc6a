"""Monte Carlo tree search over the assembly game (single player, AlphaZero/MuZero style).

* :mod:`~alphadev.mcts.tree`: the tree as preallocated arrays and the compiled kernels
  (selection, expansion, backup, transpositions);
* :mod:`~alphadev.mcts.potential`: the progress potential Φ, the heuristic value and the
  shaping potential;
* :mod:`~alphadev.mcts.driver`: :class:`MCTS`, the object a caller drives, and the evaluators.
"""

from alphadev.mcts.driver import (
    MCTS,
    Evaluator,
    HeuristicEvaluator,
    Leaves,
    MCTSConfig,
)

__all__ = ["MCTS", "Evaluator", "HeuristicEvaluator", "Leaves", "MCTSConfig"]
