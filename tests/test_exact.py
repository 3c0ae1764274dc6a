import numpy as np
import pytest

from alphadev import exact
from alphadev.game import AssemblyGame
from alphadev.isa import Op, get_isa
from alphadev.tasks import SortTask, verify

from .conftest import shortest_completion


def replays_in_the_game(program, task):
    """Every instruction is legal under the game's rules and the end state is correct."""
    game = AssemblyGame(task)
    gs = game.initial_state()
    for ins in program:
        gs = game.apply(gs, task.action_space.index(ins))  # raises if illegal
    return gs.correct


def test_cmp_is_taken_in_one_order_only_when_every_condition_has_its_mirror():
    cmov = exact.core_actions(4, get_isa("cmov"))
    cmps = cmov[cmov[:, 0] == int(Op.CMP)]
    assert len(cmps) == 6 and np.all(cmps[:, 1] < cmps[:, 2])
    only_g = exact.core_actions(4, get_isa("mov,cmp,cmovg"))
    assert np.count_nonzero(only_g[:, 0] == int(Op.CMP)) == 12


@pytest.mark.parametrize(("isa", "shortest"), [("cmov", 8), ("minmax", 7)])
def test_sort2_shortest_agrees_with_breadth_first_search_over_the_game(isa, shortest):
    task = SortTask(2, isa=isa)
    assert exact.find(task, shortest - 4 - 1).status == "exhausted"
    found = exact.find(task, shortest - 4)
    assert found.status == "found" and len(found.program) == shortest
    game = AssemblyGame(task)
    assert shortest_completion(game, game.initial_state(), shortest) == shortest


@pytest.mark.parametrize(("isa", "core"), [("cmov", 11), ("minmax", 8)])
def test_sort3_shortest_core_is_found_and_one_shorter_is_exhausted(isa, core):
    task = SortTask(3, isa=isa)
    found = exact.find(task, core)
    assert found.status == "found" and len(found.program) == core + 6
    assert verify(found.program, task).correct
    assert replays_in_the_game(found.program, task)
    assert exact.find(task, core - 1).status == "exhausted"


def test_a_prefix_is_kept_and_the_tail_search_shortens_the_network():
    task = SortTask(3)
    network = exact.network_core(task)
    assert len(network) == 12
    with_prefix = exact.find(task, 12, prefix=network[:4])
    assert with_prefix.status == "found"
    assert exact.core_of(task, with_prefix.program)[:4] == network[:4]
    shorter = exact.shorten_tail(task, network)
    assert shorter is not None and len(shorter) == 11
    assert verify(exact.assemble(task, shorter), task).correct


@pytest.mark.parametrize(("n", "comparators"), [(2, 1), (3, 3), (4, 5), (5, 9)])
def test_sorting_networks_have_the_optimal_comparator_counts(n, comparators):
    assert len(exact.sorting_network(n)) == comparators


@pytest.mark.parametrize("isa", ["cmov", "minmax", "mov,cmp,cmovl"])
@pytest.mark.parametrize("n", [2, 3, 4, 5])
def test_lowered_networks_verify_and_replay(n, isa):
    task = SortTask(n, isa=isa)
    program = exact.assemble(task, exact.network_core(task))
    assert verify(program, task).correct
    assert replays_in_the_game(program, task)


def test_a_stop_request_stops_the_search():
    control = exact.SearchControl()
    control.stop()
    outcome = exact.find(SortTask(4), 20, control=control)
    assert outcome.status == "stopped" and outcome.program is None
    assert outcome.nodes >= exact.POLL_EVERY


def test_a_node_cap_stops_the_search():
    outcome = exact.find(SortTask(4), 20, max_nodes=10_000)
    assert outcome.status == "stopped" and outcome.nodes < 20_000


def test_space_description_names_the_restrictions():
    text = exact.Space.of(SortTask(3)).describe()
    assert "4 registers" in text and "loads first" in text and "13 tie-pattern rows" in text


# --------------------------------------------------------------------------------------------
# Lower bounds and exactness against an independent breadth-first search over the core space.
# --------------------------------------------------------------------------------------------


def _relaxed_moves(registers, isa):
    """Every register move of the ISA, both cmp orders, no game rule beyond definedness: the
    distances this space gives are at most those of the space the exact search uses."""
    ops = get_isa(isa).ops
    pairs = [(d, s) for d in range(registers) for s in range(registers) if d != s]
    return [(op, d, s) for op in sorted(ops) for d, s in pairs]


def _apply(op, dst, src, regs, written, flags, valid):
    """Numpy semantics written from the emulator's docstring (independent of the kernels)."""
    a, b = regs[dst], regs[src]
    if op == Op.CMP:
        return regs, written, np.sign(a.astype(np.int16) - b).astype(np.int8), True
    if op == Op.MOV:
        new = b
    elif op == Op.CMOVL:
        new = np.where(flags < 0, b, a)
    elif op == Op.CMOVG:
        new = np.where(flags > 0, b, a)
    elif op == Op.CMOVLE:
        new = np.where(flags <= 0, b, a)
    elif op == Op.CMOVGE:
        new = np.where(flags >= 0, b, a)
    elif op == Op.MIN:
        new = np.minimum(a, b)
    else:
        new = np.maximum(a, b)
    regs = regs.copy()
    regs[dst] = new
    written = written.copy()
    written[dst] = 1
    return regs, written, flags, valid


def _key(regs, written, flags, valid):
    cols = sorted(regs[r].tobytes() for r in range(len(written)) if written[r])
    return (tuple(cols), flags.tobytes() if valid else None)


def _solved(regs, written, targets):
    held = {regs[r].tobytes() for r in range(len(written)) if written[r]}
    return all(t.tobytes() in held for t in targets)


def bfs_distance(task, core, limit):
    """Fewest further core moves (relaxed rules) from the state after ``core``, or None."""
    from alphadev.exact.space import start_state, target_columns

    state = start_state(task, core)
    targets = target_columns(task.n)
    moves = _relaxed_moves(task.registers, task.isa.name)
    start = (state.regs, state.written, state.flags, bool(state.start[0]))
    if _solved(state.regs, state.written, targets):
        return 0
    frontier = {_key(*start): start}
    seen = set(frontier)
    for depth in range(1, limit + 1):
        nxt = {}
        for regs, written, flags, valid in frontier.values():
            for op, d, s in moves:
                if not written[s] or (op != Op.MOV and not written[d]):
                    continue
                if Op.CMOVL <= op <= Op.CMOVGE and not valid:
                    continue
                child = _apply(op, d, s, regs, written, flags, valid)
                if _solved(child[0], child[1], targets):
                    return depth
                key = _key(*child)
                if key not in seen:
                    seen.add(key)
                    nxt[key] = child
        frontier = nxt
    return None


def _random_prefix(task, length, rng):
    """A random legal core prefix (game rules as in the exact space), None if stuck."""
    actions = exact.core_actions(task.registers, task.isa)
    core = []
    written = set(range(task.n))
    has_cmp = last_cmp = False
    for _ in range(length):
        legal = []
        for op, d, s in actions:
            if s not in written or (op == Op.CMP and (last_cmp or d not in written)):
                continue
            if op == Op.MOV and d not in written and d != min(set(range(99)) - written):
                continue
            if op not in (Op.MOV, Op.CMP) and d not in written:
                continue
            if Op.CMOVL <= op <= Op.CMOVGE and not has_cmp:
                continue
            legal.append((int(op), int(d), int(s)))
        if not legal:
            return None
        op, d, s = legal[rng.integers(len(legal))]
        core.append((op, d, s))
        if op == Op.CMP:
            has_cmp = last_cmp = True
        else:
            written.add(d)
            last_cmp = False
    return core


@pytest.mark.parametrize("isa", ["cmov", "minmax", "mov,cmp,cmovg"])
@pytest.mark.parametrize("n", [2, 3])
def test_lower_bound_never_exceeds_the_breadth_first_distance(n, isa):
    from alphadev.exact.bound_lower import state_bound

    task = SortTask(n, isa=isa)
    rng = np.random.default_rng(n)
    network = exact.network_core(task)
    samples = [network[:k] for k in range(len(network) + 1)]
    for seed in range(2):
        found = exact.find(task, len(network), order_seed=seed)
        core = exact.core_of(task, found.program)
        samples += [core[:k] for k in range(len(core) + 1)]
    for _ in range(40):
        prefix = _random_prefix(task, int(rng.integers(0, 12)), rng)
        if prefix is not None:
            samples.append(prefix)
    limit = 3 if n == 3 else 8
    checked = 0
    for core in samples:
        bound = state_bound(task, core)
        distance = bfs_distance(task, core, limit)
        if distance is not None:
            checked += 1
            assert bound <= distance, (core, bound, distance)
            # Every weaker configuration is a bound too, and never above the full one.
            assert state_bound(task, core, cover=False, writes=False) <= bound
    assert checked >= 10


@pytest.mark.parametrize(("n", "isa"), [(3, "cmov"), (3, "minmax"), (4, "cmov"), (4, "minmax")])
def test_lower_bound_never_exceeds_what_a_known_program_still_spends(n, isa):
    from alphadev.exact.bound_lower import state_bound

    task = SortTask(n, isa=isa)
    cores = [exact.network_core(task)]
    if n == 3:
        cores += [exact.core_of(task, exact.find(task, 12, order_seed=s).program) for s in range(4)]
    for core in cores:
        for k in range(len(core) + 1):
            assert state_bound(task, core[:k]) <= len(core) - k


@pytest.mark.parametrize("isa", ["cmov", "minmax"])
def test_sort2_found_length_is_the_breadth_first_shortest(isa):
    task = SortTask(2, isa=isa)
    shortest = bfs_distance(task, [], 10)
    assert exact.find(task, shortest - 1).status == "exhausted"
    found = exact.find(task, shortest)
    assert found.status == "found" and len(found.program) == shortest + 4


@pytest.mark.parametrize("isa", ["cmov", "minmax"])
def test_sort3_tails_agree_with_breadth_first_search(isa):
    """From states along known programs and random prefixes: the search finds a tail exactly as
    long as the breadth-first shortest one and exhausts one below (every prune is exact)."""
    task = SortTask(3, isa=isa)
    rng = np.random.default_rng(7)
    network = exact.network_core(task)
    prefixes = [network[:k] for k in range(max(0, len(network) - 5), len(network))]
    for _ in range(12):
        prefix = _random_prefix(task, int(rng.integers(4, 10)), rng)
        if prefix is not None:
            prefixes.append(prefix)
    compared = 0
    for prefix in prefixes:
        distance = bfs_distance(task, prefix, 3)
        if distance is None:
            assert exact.find(task, len(prefix) + 3, prefix=prefix).status == "exhausted"
            continue
        compared += 1
        found = exact.find(task, len(prefix) + distance, prefix=prefix)
        assert found.status == "found", prefix
        assert len(found.program) == len(prefix) + distance + 6
        assert verify(found.program, task).correct
        if distance > 0:
            below = exact.find(task, len(prefix) + distance - 1, prefix=prefix)
            assert below.status == "exhausted", prefix
    assert compared >= 3


@pytest.mark.parametrize("options", [{}, {"cover": True}, {"writes": True}])
def test_sort3_optimum_holds_under_every_bound_configuration(options):
    task = SortTask(3)
    assert exact.find(task, 11, **options).status == "found"
    assert exact.find(task, 10, **options).status == "exhausted"


@pytest.mark.parametrize(("isa", "max_core"), [("cmov", 8), ("minmax", 6)])
def test_a_search_from_each_first_move_adds_up_to_the_undivided_search(isa, max_core):
    """Every move is tried: the root's children, then the subtree below each one the search
    enters, each searched from its prefix, add up to the undivided search (table off, so no
    state is skipped for having been met before). The depth-first kernel once skipped the
    move after each subtree it left: 98,221 states here for cmov instead of 883,452."""
    from alphadev.exact.split import split_space

    task = SortTask(3, isa=isa)
    whole = exact.find(task, max_core, table=False)
    root = exact.find(task, 1, table=False)  # the root's children, generated and cut
    split = split_space(task, max_core, parts=2)  # the children below which it goes on
    assert split.depth == 1 and whole.status == "exhausted"
    below = sum(exact.find(task, max_core, prefix=p, table=False).nodes for p in split.prefixes)
    assert whole.nodes == root.nodes + below


def _compares_after(task, core):
    from alphadev.exact.bound_lower import compares_needed, permutation_leaves
    from alphadev.exact.space import start_state
    from alphadev.tasks import tie_pattern_rows

    state = start_state(task, list(core))
    perm_rows, leaf_of = permutation_leaves(tie_pattern_rows(task.n), task.registers)
    keys = np.zeros(perm_rows.shape[0], dtype=np.uint64)
    return compares_needed(
        state.regs, state.written, state.flags, int(state.start[0]), perm_rows, leaf_of, keys
    )


@pytest.mark.parametrize(("n", "at_start"), [(2, 1), (3, 3), (4, 5), (5, 7)])
def test_the_compare_bound_is_what_telling_the_permutations_apart_takes(n, at_start):
    """ceil(log2 n!) compares at the start; along a sorting program never more than the
    compares the program still makes; none once sorted."""
    task = SortTask(n)
    assert _compares_after(task, []) == at_start
    core = exact.network_core(task)
    for k in range(len(core) + 1):
        left = sum(1 for op, _, _ in core[k:] if op == Op.CMP)
        assert _compares_after(task, core[:k]) <= left
    assert _compares_after(task, core) == 0


@pytest.mark.parametrize("n", [3, 4])
def test_the_compare_bound_changes_no_answer_and_prunes(n):
    """From the start and from prefixes of known and random programs, the search with the
    compare bound finds or exhausts exactly where the search without it does, on fewer states."""
    task = SortTask(n)
    rng = np.random.default_rng(5)
    network = exact.network_core(task)
    prefixes = [network[:k] for k in range(0, len(network), 3)]
    while len(prefixes) < len(network) // 3 + 8:
        prefix = _random_prefix(task, int(rng.integers(2, 8)), rng)
        if prefix is not None:
            prefixes.append(prefix)
    with_bound = without = 0
    for prefix in prefixes:
        for extra in range(1, 6 if n == 3 else 5):
            a = exact.find(task, len(prefix) + extra, prefix=prefix)
            b = exact.find(task, len(prefix) + extra, prefix=prefix, compare_classes=False)
            assert a.status == b.status, (prefix, extra)
            with_bound += a.nodes
            without += b.nodes
    whole = 10 if n == 3 else 9
    a, b = exact.find(task, whole), exact.find(task, whole, compare_classes=False)
    assert a.status == b.status == "exhausted"
    assert with_bound <= without and a.nodes * 3 < b.nodes
