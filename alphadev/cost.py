"""A cost model of an out-of-order x86-64 core that predicts how fast an exported kernel runs.

Two modes, the two ways a small sort is called:

* **throughput**: many independent calls in flight (a loop over separate arrays). Bound by the
  dispatch width and by the ports each instruction can issue on (on Zen 3 a ``cmov`` issues on
  two ALUs, so a kernel cannot run faster than ``cmovs / 2`` cycles per call).
* **latency**: each call sorts the array the previous call wrote (its loads wait for the
  previous call's stores, through store-to-load forwarding). Bound by the dependency chains
  through registers, memory and flags, and by the ports.

The kernel is first lowered as :mod:`alphadev.export` writes it (``lowering="gpr"``: 32-bit
general registers, ``min``/``max`` as ``cmp`` + ``cmov``; ``"sse"``: xmm registers, ``pminsd``
/ ``pmaxsd``, ``movd`` loads and stores). Then :func:`_simulate` (compiled) runs a cycle-level
schedule of ``iterations`` back-to-back calls:

* instructions dispatch in program order, at most ``dispatch_width`` per cycle, and only while
  the reorder buffer (``rob_size`` entries, retired in order) has room;
* each issues at the first cycle at or after its dispatch where all its operands are ready and
  one of its ports is free (the oldest instruction first; of several free ports, the one used
  least so far); a register ``mov`` is eliminated
  at rename (no port, no latency), as on current cores;
* its result is ready ``latency`` cycles after it issues; a store's value reaches a later load
  of the same slot ``store_forward`` cycles after the store issued.

The figure is the steady state: cycles per call between the middle and the end of the run.
``call`` is one call on an idle core (what ``llvm-mca -iterations=1`` reports).

:data:`ZNVER3` holds the parameters of AMD Zen 3 as LLVM's scheduling model states them
(latencies and ports of ``llvm-mca -mcpu=znver3``; the store-forwarding delay calibrated on
this project's machine with ``benchmarks/cost_model.py``). They ship with the package: nothing
here needs llvm-mca or gcc.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from alphadev.isa import CMOV_OPS, Op, Program
from alphadev.jit import njit

__all__ = [
    "LOWERINGS",
    "MODES",
    "ZNVER3",
    "CpuModel",
    "Prediction",
    "best_lowering",
    "lower",
    "partial_cost",
    "predict",
]

#: How a kernel becomes x86-64 (see :mod:`alphadev.export`).
LOWERINGS = ("gpr", "sse")
#: The two ways of calling a kernel that the model predicts.
MODES = ("throughput", "latency")

# Machine instruction classes (the rows of CpuModel.latency / CpuModel.ports).
LOAD, STORE, MOV, CMP, CMOV, XLOAD, XSTORE, XMOV, XMINMAX = range(9)
CLASS_NAMES = ("load", "store", "mov", "cmp", "cmov", "movd load", "movd store", "movdqa",
               "pminsd/pmaxsd")  # fmt: skip

# Ports, as bits of CpuModel.ports: 4 integer ALUs, 3 load pipes, 1 store-data pipe, 4 FP pipes.
ALU0, ALU1, ALU2, ALU3, LD0, LD1, LD2, ST, FP0, FP1, FP2, FP3 = (1 << i for i in range(12))
_ANY_ALU = ALU0 | ALU1 | ALU2 | ALU3
_ANY_LOAD = LD0 | LD1 | LD2
_ANY_FP = FP0 | FP1 | FP2 | FP3


@dataclass(frozen=True)
class CpuModel:
    """A core's parameters. ``latency`` and ``ports`` are indexed by instruction class
    (``load, store, mov, cmp, cmov, movd load, movd store, movdqa, pminsd/pmaxsd``); a port
    mask of 0 means the instruction is eliminated at rename (no port, no latency)."""

    name: str
    dispatch_width: int
    rob_size: int
    store_forward: int
    latency: tuple[int, ...]
    ports: tuple[int, ...]
    iterations: int = 8
    notes: str = field(default="", compare=False)


#: AMD Zen 3, from LLVM 14's scheduling model (llvm-mca -mcpu=znver3): loads 5 cycles on 3
#: load pipes, stores 1 per cycle, register moves eliminated, cmp on 4 ALUs, cmov on ALU0 and
#: ALU3 (latency 1), movd loads 8 cycles, pminsd/pmaxsd 1 cycle on 4 FP pipes; 6-wide
#: dispatch, 256-entry reorder buffer.
ZNVER3 = CpuModel(
    name="znver3",
    dispatch_width=6,
    rob_size=256,
    store_forward=2,
    latency=(5, 1, 0, 1, 1, 8, 1, 0, 1),
    ports=(_ANY_LOAD, ST, 0, _ANY_ALU, ALU0 | ALU3, _ANY_LOAD, ST, 0, _ANY_FP),
    notes="LLVM 14 znver3 scheduling model; store_forward calibrated natively",
)


@dataclass(frozen=True)
class Prediction:
    """Predicted cycles per call: ``throughput`` (independent calls), ``latency`` (each call
    on the previous call's output), ``call`` (one call on an idle core, integer cycles)."""

    throughput: float
    latency: float
    call: int

    def of(self, mode: str) -> float:
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}: expected one of {MODES}")
        return self.throughput if mode == "throughput" else self.latency


def best_lowering(program: Program) -> str:
    """The faithful lowering of ``program``: ``sse`` (one pminsd/pmaxsd per min/max) when it
    uses only mov, min and max, else ``gpr``."""
    ops = {Op(ins.op) for ins in program.code}
    return "sse" if ops <= {Op.MOV, Op.MIN, Op.MAX} else "gpr"


def lower(program: Program, lowering: str = "gpr") -> np.ndarray:
    """The machine instructions of ``program`` as ``int64[M, 5]`` rows ``(class, written,
    read0, read1, read2)`` over location numbers (memory slots, registers, and the flags as
    ``n + registers``; -1 for no operand). ``"sse"`` takes only mov/min/max programs."""
    if lowering not in LOWERINGS:
        raise ValueError(f"unknown lowering {lowering!r}: expected one of {LOWERINGS}")
    layout = program.layout
    flags = layout.n + layout.registers
    sse = lowering == "sse"
    rows: list[tuple[int, int, int, int, int]] = []
    for ins in program.code:
        op, dst, src = Op(ins.op), ins.dst, ins.src
        if op == Op.MOV:
            if layout.is_memory(src):
                rows.append((XLOAD if sse else LOAD, dst, src, -1, -1))
            elif layout.is_memory(dst):
                rows.append((XSTORE if sse else STORE, dst, src, -1, -1))
            else:
                rows.append((XMOV if sse else MOV, dst, src, -1, -1))
        elif sse:
            if op not in (Op.MIN, Op.MAX):
                raise ValueError(f"the sse lowering has no {op.mnemonic}: mov, min, max only")
            rows.append((XMINMAX, dst, dst, src, -1))
        elif op == Op.CMP:
            rows.append((CMP, flags, dst, src, -1))
        elif op in CMOV_OPS:
            rows.append((CMOV, dst, dst, src, flags))
        else:  # min/max: cmp src, dst; cmov src, dst
            rows.append((CMP, flags, dst, src, -1))
            rows.append((CMOV, dst, dst, src, flags))
    return np.array(rows, dtype=np.int64).reshape(-1, 5)


@njit(cache=True)
def _schedule(code, is_memory, latency, ports, width, rob, forward):
    """Cycle-level schedule of ``code`` (``int64[M, 5]`` rows as :func:`lower` makes them, for
    several calls one after the other; ``is_memory``: ``int8[locations]``, 1 for a memory
    slot). Returns ``int64[M]``: the cycle each instruction's result is ready."""
    m = code.shape[0]
    horizon = m * (int(latency.max()) + forward + 2) + 64
    busy = np.zeros(horizon, dtype=np.int64)  # ports taken, per cycle
    used = np.zeros(16, dtype=np.int64)  # uops issued on each port
    ready = np.zeros(is_memory.shape[0], dtype=np.int64)
    retire = np.zeros(rob, dtype=np.int64)  # ring: retire cycle of the last rob instructions
    ends = np.zeros(m, dtype=np.int64)
    cycle = 0  # dispatch cycle
    slots = 0  # instructions dispatched in it
    last_retire = 0
    for g in range(m):
        if slots == width:
            cycle += 1
            slots = 0
        if g >= rob and retire[g % rob] > cycle:
            cycle = retire[g % rob]
            slots = 0
        slots += 1
        kind = code[g, 0]
        start = cycle
        for r in range(2, 5):
            loc = code[g, r]
            if loc >= 0 and ready[loc] > start:
                start = ready[loc]
        mask = ports[kind]
        if mask == 0:
            end = start
        else:
            t = start
            while t < horizon - 1 and (busy[t] & mask) == mask:
                t += 1
            free = mask & ~busy[t]
            pick = -1  # the free port used least so far (as LLVM's scheduler picks)
            for b in range(used.shape[0]):
                if (free >> b) & 1 and (pick < 0 or used[b] < used[pick]):
                    pick = b
            used[pick] += 1
            busy[t] |= 1 << pick
            end = t + latency[kind]
        dst = code[g, 1]
        ready[dst] = end + forward if is_memory[dst] else end
        ends[g] = end
        last_retire = max(last_retire, end)
        retire[g % rob] = last_retire
    return ends


# The step between two calls in latency mode (the native harness's): load one slot, XOR it
# with a random word (an integer ALU op of one cycle, as a cmp), store it back.
_XOR_LOAD, _XOR, _XOR_STORE = LOAD, CMP, STORE


def _calls(code: np.ndarray, n: int, locations: int, iterations: int, chained: bool):
    """``iterations`` calls of ``code`` one after the other, as one code array and the
    ``is_memory`` map of its locations. Independent calls (``chained=False``) each get their
    own locations (another array, renamed registers); chained calls share them, and between two
    the slot ``call % n`` is loaded, XORed and stored back, as in the native harness."""
    scratch = locations  # one location past the kernel's: the XOR's register
    block = locations + 1
    parts, owner = [], []
    for it in range(iterations):
        offset = 0 if chained else it * block
        part = code.copy()
        part[:, 1:] = np.where(part[:, 1:] >= 0, part[:, 1:] + offset, -1)
        parts.append(part)
        owner += [it] * len(part)
        if chained:
            slot = it % n
            glue = np.array([(_XOR_LOAD, scratch, slot, -1, -1),
                             (_XOR, scratch, scratch, -1, -1),
                             (_XOR_STORE, slot, scratch, -1, -1)], dtype=np.int64)  # fmt: skip
            parts.append(glue)
            owner += [it] * 3
    total = block if chained else block * iterations
    is_memory = np.zeros(total, dtype=np.int8)
    for start in range(0, total, block):
        is_memory[start : start + n] = 1
    return np.concatenate(parts), np.array(owner, dtype=np.int64), is_memory


def _per_call(ends: np.ndarray, owner: np.ndarray, iterations: int) -> np.ndarray:
    """The cycle by which each call, and every call before it, is done."""
    done = np.zeros(iterations)
    np.maximum.at(done, owner, ends)
    return np.maximum.accumulate(done)


def predict(program: Program, lowering: str = "gpr", model: CpuModel = ZNVER3) -> Prediction:
    """Predicted cycles per call of ``program`` exported with ``lowering``, on ``model``."""
    code = lower(program, lowering)
    return predict_lowered(code, program.layout.n, program.layout.registers, model)


def predict_lowered(code: np.ndarray, n: int, registers: int,
                    model: CpuModel = ZNVER3) -> Prediction:  # fmt: skip
    """:func:`predict` of code already :func:`lower` ed."""
    latency = np.array(model.latency, dtype=np.int64)
    ports = np.array(model.ports, dtype=np.int64)
    k = max(2, model.iterations)
    half = k // 2
    figures = []
    for chained in (False, True):
        calls, owner, is_memory = _calls(code, n, n + registers + 1, k, chained)
        ends = _schedule(calls, is_memory, latency, ports, model.dispatch_width,
                         model.rob_size, model.store_forward)  # fmt: skip
        figures.append(_per_call(ends, owner, k))
    free, chain = figures
    single = _schedule(*_calls(code, n, n + registers + 1, 1, False)[::2], latency, ports,
                       model.dispatch_width, model.rob_size, model.store_forward)  # fmt: skip
    return Prediction(
        throughput=float(free[-1] - free[half - 1]) / (k - half),
        latency=float(chain[-1] - chain[half - 1]) / (k - half),
        call=int(single.max()) if single.size else 0,
    )


def partial_cost(program: Program, mode: str, lowering: str = "gpr",
                 model: CpuModel = ZNVER3) -> float:  # fmt: skip
    """A cheap score of an unfinished kernel (loads and part of the core, no stores yet) for
    ranking the nodes of a beam: ``throughput``, cycles per call of 4 independent calls in
    flight; ``latency``, the cycle one call on an idle core is done."""
    code = lower(program, lowering)
    n, registers = program.layout.n, program.layout.registers
    latency = np.array(model.latency, dtype=np.int64)
    ports = np.array(model.ports, dtype=np.int64)
    k = 4 if mode == "throughput" else 1
    calls, _, is_memory = _calls(code, n, n + registers + 1, k, False)
    ends = _schedule(calls, is_memory, latency, ports, model.dispatch_width, model.rob_size,
                     model.store_forward)  # fmt: skip
    return float(ends.max()) / k if ends.size else 0.0
