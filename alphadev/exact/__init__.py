"""Exact search: the engines that can prove a kernel optimal in their space.

* :mod:`~alphadev.exact.space`: the space (loads first, a register core, stores last), its
  action list, and conversions between cores and programs;
* :mod:`~alphadev.exact.moves`: the move rules of the space, the one statement every engine
  calls;
* :mod:`~alphadev.exact.columns`: compiled kernels over register columns (renaming-invariant
  state key, dead-state and lower-bound facts);
* :mod:`~alphadev.exact.branch_bound`: iterative depth-first branch and bound (``find``,
  ``shorten_tail``);
* :mod:`~alphadev.exact.split`: the space cut into parts at a shallow depth, for workers that
  search them apart (:func:`~alphadev.exact.split.split_space`), and searched one by one
  (:func:`~alphadev.exact.split.search_parts`);
* :mod:`~alphadev.exact.ledger`: a proof's parts already exhausted, kept in a file (resumable
  proofs);
* :mod:`~alphadev.exact.cegis`: the counterexample-guided loop of the large-n searches;
* :mod:`~alphadev.exact.networks`: sorting networks and their lowering (constructed seeds);
* :mod:`~alphadev.exact.control`: :class:`SearchControl`, the handle to stop a running search.
"""

from alphadev.exact.branch_bound import Outcome, find, shorten_tail
from alphadev.exact.control import POLL_EVERY, SearchControl
from alphadev.exact.networks import compare_exchange, network_core, sorting_network
from alphadev.exact.space import Core, Space, assemble, core_actions, core_of

__all__ = [
    "POLL_EVERY",
    "Core",
    "Outcome",
    "SearchControl",
    "Space",
    "assemble",
    "compare_exchange",
    "core_actions",
    "core_of",
    "find",
    "network_core",
    "shorten_tail",
    "sorting_network",
]
