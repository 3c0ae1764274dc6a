"""Export a kernel of the toy machine to C (GCC inline assembly with a portable fallback) or to
a standalone x86-64 GNU assembler file (System V ABI).

Mapping (both targets):

* memory slot ``m{i}`` is ``a[i]``, the ``i``-th ``int32_t`` behind the pointer argument
  (``4*i(%rdi)`` in the assembler file);
* each toy register is one 32-bit general-purpose register (the compiler picks them in C; in
  the assembler file ``r0..r7`` are ``eax, ecx, edx, esi, r8d, r9d, r10d, r11d``, caller-saved,
  and ``r8..`` are ``ebx, ebp, r12d..r15d``, saved and restored);
* ``mov`` is ``movl``; ``cmp a, b`` is ``cmpl b, a`` (AT&T order, flags of ``a - b``); the
  cmovs keep their names (``cmovl/cmovg/cmovle/cmovge``, signed conditions);
* ``min dst, src`` is ``cmpl src, dst; cmovg src, dst`` and ``max`` is ``cmpl src, dst;
  cmovl src, dst`` (a documented scalar lowering). It overwrites the flags, which the toy
  ``min``/``max`` do not, so a program in which a ``cmov`` reads flags set before a
  ``min``/``max`` is refused (:class:`ExportError`).

The C file's ``#else`` branch (taken off x86-64, without GCC-style inline assembly, or with
``-DALPHADEV_PORTABLE``) is plain C generated from the same program: a compiler turns its
selects into branch-free code at -O2 on common targets, but C cannot promise it.
"""

from __future__ import annotations

import re

from alphadev.isa import CMOV_OPS, FLAGS, Op, Program, reads

__all__ = ["ExportError", "to_c", "to_gas"]

_GAS_REGISTERS = (
    "eax", "ecx", "edx", "esi", "r8d", "r9d", "r10d", "r11d",
    "ebx", "ebp", "r12d", "r13d", "r14d", "r15d",
)  # fmt: skip
_CALLEE_SAVED = {"ebx": "rbx", "ebp": "rbp", "r12d": "r12", "r13d": "r13", "r14d": "r14",
                 "r15d": "r15"}  # fmt: skip
_CONDITION = {Op.CMOVL: "<", Op.CMOVG: ">", Op.CMOVLE: "<=", Op.CMOVGE: ">="}


class ExportError(ValueError):
    """A program that cannot be exported faithfully, or a bad function name."""


def _check(program: Program, name: str) -> None:
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise ExportError(f"function name {name!r} is not a C identifier")
    flags_from_cmp = False  # min/max clobber the flags in the x86 lowering
    for i, ins in enumerate(program.code, start=1):
        if FLAGS in reads(ins) and not flags_from_cmp:
            raise ExportError(
                f"instruction {i} ({ins.op.mnemonic}) reads flags that an earlier min/max "
                "overwrites in the x86 lowering (or that no cmp set)"
            )
        if ins.op == Op.CMP:
            flags_from_cmp = True
        elif ins.op in (Op.MIN, Op.MAX):
            flags_from_cmp = False
    if len(_registers(program)) > len(_GAS_REGISTERS):
        raise ExportError(f"at most {len(_GAS_REGISTERS)} registers can be mapped")


def _registers(program: Program) -> list[int]:
    """Register indices the program touches, in order."""
    layout = program.layout
    used = {loc - layout.n for ins in program for loc in (ins.dst, ins.src)
            if layout.is_register(loc)}  # fmt: skip
    return sorted(used)


def _asm_lines(program: Program, operand) -> list[str]:
    """AT&T instructions; ``operand(loc)`` names a location."""
    lines = []
    for ins in program:
        dst, src = operand(ins.dst), operand(ins.src)
        if ins.op == Op.MOV:
            lines.append(f"movl {src}, {dst}")
        elif ins.op == Op.CMP:
            lines.append(f"cmpl {src}, {dst}")
        elif ins.op in CMOV_OPS:
            lines.append(f"{ins.op.mnemonic} {src}, {dst}")
        elif ins.op == Op.MIN:
            lines += [f"cmpl {src}, {dst}", f"cmovg {src}, {dst}"]
        else:
            lines += [f"cmpl {src}, {dst}", f"cmovl {src}, {dst}"]
    return lines


def _c_fallback(program: Program) -> list[str]:
    layout = program.layout
    regs = _registers(program)

    def c(loc: int) -> str:
        return f"a[{loc}]" if layout.is_memory(loc) else f"r{loc - layout.n}"

    lines = []
    if regs:
        lines.append("int32_t " + ", ".join(f"r{r} = 0" for r in regs) + ";")
    if any(ins.op == Op.CMP for ins in program):
        lines.append("int f = 0; /* flags of the last cmp: -1, 0, 1 */")
    for ins in program:
        dst, src = c(ins.dst), c(ins.src)
        if ins.op == Op.MOV:
            lines.append(f"{dst} = {src};")
        elif ins.op == Op.CMP:
            lines.append(f"f = ({dst} > {src}) - ({dst} < {src});")
        elif ins.op in CMOV_OPS:
            lines.append(f"{dst} = (f {_CONDITION[ins.op]} 0) ? {src} : {dst};")
        elif ins.op == Op.MIN:
            lines.append(f"{dst} = ({src} < {dst}) ? {src} : {dst};")
        else:
            lines.append(f"{dst} = ({src} > {dst}) ? {src} : {dst};")
    if any(ins.op == Op.CMP for ins in program):
        lines.append("(void)f;")
    return lines


def to_c(program: Program, name: str, *, comment: str = "") -> str:
    """C source of ``void name(int32_t *a)`` that sorts ``a[0..n-1]`` in place."""
    _check(program, name)
    layout = program.layout
    regs = _registers(program)
    mems = sorted({loc for ins in program for loc in (ins.dst, ins.src)
                   if layout.is_memory(loc)})  # fmt: skip

    def operand(loc: int) -> str:
        return f"%[m{loc}]" if layout.is_memory(loc) else f"%[r{loc - layout.n}]"

    body = "\n".join(f'        "{line}\\n\\t"' for line in _asm_lines(program, operand))
    outputs = [f'[m{m}] "+m"(a[{m}])' for m in mems] + [f'[r{r}] "=&r"(r{r})' for r in regs]
    decl = ("    int32_t " + ", ".join(f"r{r}" for r in regs) + ";\n") if regs else ""
    fallback = "\n".join(f"    {line}" for line in _c_fallback(program))
    head = f"/* {comment} */\n" if comment else ""
    return f"""{head}#include <stdint.h>

/* Sorts a[0..{layout.n - 1}] in place, branch-free: {len(program)} instructions of the toy
   machine, exported by alphadev. */
void {name}(int32_t *a);

#if defined(__x86_64__) && defined(__GNUC__) && !defined(ALPHADEV_PORTABLE)
void {name}(int32_t *a) {{
{decl}    __asm__(
{body}
        : {", ".join(outputs)}
        :
        : "cc");
}}
#else
void {name}(int32_t *a) {{
{fallback}
}}
#endif
"""


def to_gas(program: Program, name: str, *, comment: str = "") -> str:
    """A standalone x86-64 GNU assembler file defining ``name(int32_t *a)`` (System V:
    the pointer in ``%rdi``)."""
    _check(program, name)
    layout = program.layout
    regs = _registers(program)
    mapping = {r: _GAS_REGISTERS[i] for i, r in enumerate(regs)}
    saved = [_CALLEE_SAVED[mapping[r]] for r in regs if mapping[r] in _CALLEE_SAVED]

    def operand(loc: int) -> str:
        if layout.is_memory(loc):
            return f"{4 * loc}(%rdi)" if loc else "(%rdi)"
        return f"%{mapping[loc - layout.n]}"

    lines = [f"# {comment}"] if comment else []
    lines += [
        f"# void {name}(int32_t *a): sorts a[0..{layout.n - 1}] in place, branch-free.",
        "# Exported by alphadev; toy registers: "
        + ", ".join(f"r{r} = %{mapping[r]}" for r in regs),
        "    .text",
        f"    .globl {name}",
        f"    .type {name}, @function",
        f"{name}:",
        *(f"    pushq %{reg}" for reg in saved),
        *(f"    {line}" for line in _asm_lines(program, operand)),
        *(f"    popq %{reg}" for reg in reversed(saved)),
        "    ret",
        f"    .size {name}, .-{name}",
        '    .section .note.GNU-stack,"",@progbits',
        "",
    ]
    return "\n".join(lines)
