"""Search methods to compare the MCTS with: exact enumeration (and, later, stochastic and
random search). Each returns programs in the game's space, checked by :func:`tasks.verify`."""
