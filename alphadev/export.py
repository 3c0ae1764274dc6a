"""Export a kernel of the toy machine to C (GCC inline assembly with a portable fallback), to a
standalone x86-64 GNU assembler file (System V ABI), or, for several kernels, to one C header
that a user can paste into a project (:func:`to_c_header`).

Memory slot ``m{i}`` is ``a[i]``, the ``i``-th ``int32_t`` behind the pointer argument:
``4*i(%rdi)`` in the assembler file, ``4*i(%[a])`` in the inline assembly, where the pointer is
the one input operand (``"r"(a)``) and a ``"memory"`` clobber says that the array is read and
written (the statement is ``__volatile__``: its effect is on memory). So the statement needs
one operand per toy register plus one, whatever ``n``: sort8 with 9 or 10 registers compiles at
every optimisation level, -O0 included. (With a frame pointer, at -O0 or with
``-fno-omit-frame-pointer``, ``rbp`` is taken, leaving 13 general registers beside the pointer
for the ``gpr`` lowering; otherwise 14, the most :func:`to_c` accepts. A 14-register program
therefore needs the assembler file or -O1 and above.)

Two lowerings (``lowering=`` of :func:`to_c`, :func:`to_gas` and of each header kernel):

``"gpr"`` (the default), any kernel: each toy register is one 32-bit general-purpose register
(the compiler picks them in C; in the assembler file ``r0..r7`` are ``eax, ecx, edx, esi, r8d,
r9d, r10d, r11d``, caller-saved, and ``r8..`` are ``ebx, ebp, r12d..r15d``, saved and restored).
``mov`` is ``movl``; ``cmp a, b`` is ``cmpl b, a`` (AT&T order, flags of ``a - b``); the cmovs
keep their names (``cmovl/cmovg/cmovle/cmovge``, signed conditions); ``min dst, src`` is
``cmpl src, dst; cmovg src, dst`` and ``max`` is ``cmpl src, dst; cmovl src, dst``. This
overwrites the flags, which the toy ``min``/``max`` do not, so a program in which a ``cmov``
reads flags set before a ``min``/``max`` is refused (:class:`ExportError`).

``"sse"``, kernels of ``mov``/``min``/``max`` only (``cmp`` and the cmovs have no SSE form here:
:class:`ExportError`): each toy register is an xmm register (the program's registers, in order,
are ``xmm0..xmm15`` in the assembler file, all caller-saved; in C each is an ``"=&x"`` operand
of a 16-byte vector type, so no ``-msse4.1`` flag is needed), of which only the lowest 32-bit
lane matters. ``min dst, src`` is ``pminsd src, dst`` and ``max`` is ``pmaxsd src, dst`` (SSE4.1,
one instruction each, flags untouched); a register copy is ``movdqa``, a load ``movd 4*i(...),
%xmmK`` and a store ``movd %xmmK, 4*i(...)``. The CPU must have SSE4.1 (x86-64-v2: every
Intel Core since 2008, AMD since 2011, any mainstream x86-64 CPU since 2013); for an older one,
build the C file with ``-DALPHADEV_PORTABLE`` (the inline assembly is not guarded by
``__SSE4_1__``: compilers do not check its text against ``-m`` flags).

The C file's ``#else`` branch (taken off x86-64, without GCC-style inline assembly, or with
``-DALPHADEV_PORTABLE``) is plain C generated from the same program, whatever the lowering: a
compiler turns its selects into branch-free code at -O2 on common targets, but C cannot promise
it.

:func:`to_c_header` writes the same two definitions per kernel, as ``static inline void
alphadev_sort{n}_i32(int32_t *a)`` each in its own lowering, under one include guard, with
``static inline void sort_small_i32(int32_t *a, size_t n)``: nothing to do for n = 0 or 1, the
kernel for a size that has one, an insertion sort for any other n.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Protocol

from alphadev.isa import CMOV_OPS, FLAGS, MAX_REGISTERS, Op, Program, reads

__all__ = [
    "LOWERINGS",
    "MAX_HEADER_N",
    "MAX_NAME",
    "ExportError",
    "HeaderKernel",
    "check_name",
    "to_c",
    "to_c_header",
    "to_gas",
]


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


#: Longest function name accepted.
MAX_NAME = 64

#: Keywords of C (C89 to C23) and of GNU C, and ``main``.
_C_KEYWORDS = _words("""
    auto break case char const continue default do double else enum extern float for goto if
    inline int long register restrict return short signed sizeof static struct switch typedef
    union unsigned void volatile while alignas alignof bool constexpr false nullptr
    static_assert thread_local true typeof typeof_unqual asm fortran main
""")
#: Identifiers of the C standard library and of POSIX that a program may not define with
#: external linkage (functions, and the macros and objects a header may define).
_C_LIBRARY = _words("""
    abort abs acos acosh aligned_alloc asctime asin asinh assert at_quick_exit atan atan2 atanh
    atexit atof atoi atol atoll bsearch btowc cabs cacos calloc call_once carg casin catan cbrt
    ccos ceil cexp cimag clearerr clock clog close cnd_broadcast cnd_destroy cnd_init
    cnd_signal cnd_timedwait cnd_wait complex conj copysign cos cosh cpow cproj creal csin
    csqrt ctan ctime difftime div environ erf erfc errno exit exp exp2 expm1 fabs fclose fdim
    feof ferror fflush fgetc fgetpos fgets floor fma fmax fmin fmod fopen fork fprintf fputc
    fputs fread free freopen frexp fscanf fseek fsetpos ftell fwrite getc getchar getenv gets
    gmtime hypot ilogb imaginary isalnum isalpha isblank iscntrl isdigit isfinite isgraph
    isinf islower isnan isprint ispunct isspace isupper isxdigit kill labs ldexp ldiv lgamma
    llabs lldiv llrint llround localeconv localtime log log10 log1p log2 logb longjmp lrint
    lround malloc mblen mbstowcs mbtowc memchr memcmp memcpy memmove memset mktime modf
    mtx_destroy mtx_init mtx_lock mtx_unlock nan nearbyint nextafter noreturn offsetof open
    perror pow printf putc putchar puts qsort quick_exit raise rand read realloc remainder
    remove remquo rename rewind rint round scalbln scalbn scanf setbuf setjmp setlocale
    setvbuf signal sin sinh snprintf sprintf sqrt srand sscanf stderr stdin stdout strcat
    strchr strcmp strcoll strcpy strcspn strerror strftime strlen strncat strncmp strncpy
    strpbrk strrchr strspn strstr strtod strtof strtok strtol strtold strtoll strtoul
    strtoull strxfrm swprintf system tan tanh tgamma thrd_create thrd_exit thrd_join time
    timespec_get tmpfile tmpnam tolower toupper trunc tss_create tss_get tss_set ungetc
    va_arg va_copy va_end va_start vfprintf vprintf vsnprintf vsprintf wcslen wcstombs
    wctomb write NULL EOF BUFSIZ FILENAME_MAX I SEEK_CUR SEEK_END SEEK_SET ALPHADEV_PORTABLE
    index rindex bzero bcopy bcmp ffs ffsl ffsll alloca strdup strndup stpcpy stpncpy mempcpy
    strnlen strcasecmp strncasecmp exp10 pow10 sincos gamma drem scalb significand j0 j1 jn
    y0 y1 yn isascii toascii _exit dcgettext dgettext gettext signbit finite clog10
    fputs_unlocked printf_unlocked fprintf_unlocked putchar_unlocked putc_unlocked
    vfscanf vscanf vsscanf fscanf_unlocked iswalnum iswalpha iswblank iswcntrl iswdigit
    iswgraph iswlower iswprint iswpunct iswspace iswupper iswxdigit towlower towupper
    fpclassify isgreater isgreaterequal isless islessequal islessgreater isunordered isnormal
    execl execle execlp execv execve execvp execvpe vfork posix_memalign strfmon imaxabs
    imaxdiv fputc_unlocked fwrite_unlocked feclearexcept fegetenv fegetexceptflag fegetround
    feholdexcept feraiseexcept fesetenv fesetexceptflag fesetround fetestexcept feupdateenv
    signbitd32 signbitd64 signbitd128
""")
#: Math functions: GCC knows each as a built-in (also with the suffixes f and l), and warns
#: (an error under -Werror) when a program declares one with another type.
_C_MATH = _words("""
    acos acosh asin asinh atan atan2 atanh cbrt ceil copysign cos cosh erf erfc exp exp2 expm1
    fabs fdim floor fma fmax fmin fmod frexp hypot ilogb ldexp lgamma llrint llround log log10
    log1p log2 logb lrint lround modf nan nearbyint nextafter nexttoward pow remainder remquo
    rint round scalbln scalbn sin sinh sqrt tan tanh tgamma trunc exp10 pow10 gamma drem
    significand scalb j0 j1 jn y0 y1 yn sincos finite cabs cacos cacosh carg casin casinh
    catan catanh ccos ccosh cexp cimag clog conj cpow cproj creal csin csinh csqrt ctan ctanh
    roundeven nans clog10 cexpi signbit
""") | {f"{name}{suffix}_r" for name in ("gamma", "lgamma") for suffix in ("", "f", "l")}
_C_LIBRARY = _C_LIBRARY | {f"{name}{suffix}" for name in _C_MATH for suffix in ("", "f", "l")}
#: Macros GCC predefines in its default GNU C mode on Linux x86-64 (``unix`` expands to 1).
_PREDEFINED_MACROS = _words("unix linux i386 i686 x86_64 amd64 gnu_linux")
#: Macro families of ``<stdint.h>`` (``INT32_MAX``, ``UINT8_C``, ``SIZE_MAX``, ...).
_STDINT_MACRO = re.compile(r"[A-Z0-9_]*_(MAX|MIN|C|WIDTH)")

#: One general register per toy register: all but ``%rdi`` (the pointer) and ``%rsp``, as many
#: as :data:`alphadev.isa.MAX_REGISTERS` (a test holds the two equal).
_GAS_REGISTERS = (
    "eax", "ecx", "edx", "esi", "r8d", "r9d", "r10d", "r11d",
    "ebx", "ebp", "r12d", "r13d", "r14d", "r15d",
)  # fmt: skip
_CALLEE_SAVED = {"ebx": "rbx", "ebp": "rbp", "r12d": "r12", "r13d": "r13", "r14d": "r14",
                 "r15d": "r15"}  # fmt: skip
_XMM_REGISTERS = tuple(f"xmm{i}" for i in range(16))
_CONDITION = {Op.CMOVL: "<", Op.CMOVG: ">", Op.CMOVLE: "<=", Op.CMOVGE: ">="}
_SSE_OPS = frozenset({Op.MOV, Op.MIN, Op.MAX})
_SSE_MNEMONIC = {Op.MIN: "pminsd", Op.MAX: "pmaxsd"}

#: The lowerings of toy registers and instructions to x86-64 (see the module docstring).
LOWERINGS = ("gpr", "sse")
#: When the C code takes the inline-assembly path.
_ASM_GUARD = "defined(__x86_64__) && defined(__GNUC__) && !defined(ALPHADEV_PORTABLE)"
_LOWERING_NOTE = {
    "gpr": "Lowering gpr: cmp/cmov on 32-bit general registers.",
    "sse": "Lowering sse: SSE4.1 pminsd/pmaxsd on xmm registers; the CPU must have SSE4.1\n"
    "   (x86-64-v2: every mainstream x86-64 CPU since 2013), else build with -DALPHADEV_PORTABLE.",
}


class ExportError(ValueError):
    """A program that cannot be exported faithfully, or a bad function name or lowering."""


def check_name(name: str) -> None:
    """:class:`ExportError` unless ``name`` is a C identifier that a program may define as a
    function: not a keyword, not reserved (``__x``, ``_X``, ``x_t``), not ``main``, not a
    standard library name or a ``<stdint.h>`` macro, at most :data:`MAX_NAME` characters."""
    if len(name) > MAX_NAME:
        raise ExportError(f"function name {name[:MAX_NAME]!r}... is longer than {MAX_NAME}")
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise ExportError(f"function name {name!r} is not a C identifier")
    if name in _C_KEYWORDS or name in _C_LIBRARY:
        raise ExportError(f"function name {name!r} is a C keyword or a reserved name")
    if name.startswith("_"):
        raise ExportError(
            f"function name {name!r} is reserved (C reserves names that start with _ at file "
            "scope, and the linker defines _start, _end, ...)"
        )
    if name in _PREDEFINED_MACROS:
        raise ExportError(f"function name {name!r} is a macro GCC predefines ({name} -> 1)")
    if name.endswith("_t") or _STDINT_MACRO.fullmatch(name):
        raise ExportError(f"function name {name!r} is reserved (a type or macro name)")


def _check(program: Program, lowering: str) -> None:
    """:class:`ExportError` unless ``program`` has a faithful ``lowering``."""
    if lowering not in LOWERINGS:
        raise ExportError(f"unknown lowering {lowering!r}: expected one of {', '.join(LOWERINGS)}")
    if lowering == "sse":
        other = sorted(program.ops_used - _SSE_OPS)
        if other:
            raise ExportError(
                "the sse lowering takes kernels of mov/min/max only (cmp and cmov have no SSE "
                f"form here); this one uses {', '.join(op.mnemonic for op in other)}: export it "
                "with lowering gpr"
            )
        available = _XMM_REGISTERS
    else:
        flags_from_cmp = False  # min/max clobber the flags in the gpr lowering
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
        available = _GAS_REGISTERS
    used, most = len(_registers(program)), min(len(available), MAX_REGISTERS)
    if used > most:  # a Layout holds at most MAX_REGISTERS: a check for hand-made programs
        raise ExportError(
            f"the program uses {used} registers; at most {most} can be mapped in the "
            f"{lowering} lowering"
        )


def lowering_error(program: Program, lowering: str = "gpr") -> str | None:
    """Why ``program`` has no faithful ``lowering`` (None: it has one, and exports)."""
    try:
        _check(program, lowering)
    except ExportError as exc:
        return str(exc)
    return None


def _registers(program: Program) -> list[int]:
    """Register indices the program touches, in order."""
    layout = program.layout
    used = {loc - layout.n for ins in program for loc in (ins.dst, ins.src)
            if layout.is_register(loc)}  # fmt: skip
    return sorted(used)


def _memory(loc: int, base: str) -> str:
    """AT&T address of memory slot ``loc`` behind the pointer in ``base``."""
    return f"{4 * loc}({base})" if loc else f"({base})"


def _asm_lines(program: Program, operand, lowering: str) -> list[str]:
    """AT&T instructions; ``operand(loc)`` names a location."""
    layout = program.layout
    lines = []
    for ins in program:
        dst, src = operand(ins.dst), operand(ins.src)
        if lowering == "sse":
            if ins.op != Op.MOV:
                lines.append(f"{_SSE_MNEMONIC[ins.op]} {src}, {dst}")
            elif layout.is_register(ins.dst) and layout.is_register(ins.src):
                lines.append(f"movdqa {src}, {dst}")
            else:
                lines.append(f"movd {src}, {dst}")
        elif ins.op == Op.MOV:
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


def _c_asm(program: Program, lowering: str) -> list[str]:
    """Body of the inline-assembly definition: the register variables (``int32_t``, or a
    16-byte vector of them for xmm registers) and one ``__asm__`` statement addressing the
    array through the pointer operand ``%[a]``."""
    layout = program.layout
    regs = _registers(program)

    def operand(loc: int) -> str:
        return _memory(loc, "%[a]") if layout.is_memory(loc) else f"%[r{loc - layout.n}]"

    lines = []
    if regs:
        kind = "int32_t" if lowering == "gpr" else "int32_t __attribute__((vector_size(16)))"
        lines.append(f"{kind} " + ", ".join(f"r{r}" for r in regs) + ";")
    constraint = "=&r" if lowering == "gpr" else "=&x"
    template = [f'    "{line}\\n\\t"' for line in _asm_lines(program, operand, lowering)]
    clobbers = '"cc", "memory"' if lowering == "gpr" else '"memory"'
    return [
        *lines,
        "__asm__ __volatile__(",
        *(template or ['    ""']),
        "    : " + ", ".join(f'[r{r}] "{constraint}"(r{r})' for r in regs),
        '    : [a] "r"(a)',
        f"    : {clobbers});",
    ]


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
    if not any(layout.is_memory(loc) for ins in program for loc in (ins.dst, ins.src)):
        lines.append("(void)a;")
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


def _c_definitions(signature: str, program: Program, lowering: str) -> str:
    """``signature`` defined twice: inline assembly on x86-64 with GCC-style compilers, plain C
    otherwise (or with ``-DALPHADEV_PORTABLE``)."""

    def body(lines: list[str]) -> str:
        return "\n".join(f"    {line}" for line in lines)

    return f"""#if {_ASM_GUARD}
{signature} {{
{body(_c_asm(program, lowering))}
}}
#else
{signature} {{
{body(_c_fallback(program))}
}}
#endif
"""


def _comment(text: str) -> str:
    """``text`` safe inside a C comment and on one line of an assembler file."""
    return "".join(c if c.isprintable() else "?" for c in text).replace("*/", "* /")


def to_c(program: Program, name: str, *, comment: str = "", lowering: str = "gpr") -> str:
    """C source of ``void name(int32_t *a)`` that sorts ``a[0..n-1]`` in place; ``lowering``
    is ``"gpr"`` or ``"sse"`` (mov/min/max kernels only; see the module docstring)."""
    check_name(name)
    _check(program, lowering)
    head = f"/* {_comment(comment)} */\n" if comment else ""
    return f"""{head}#include <stdint.h>

/* Sorts a[0..{program.layout.n - 1}] in place, branch-free: {len(program)} instructions of the toy
   machine, exported by alphadev.
   {_LOWERING_NOTE[lowering]} */
void {name}(int32_t *a);

{_c_definitions(f"void {name}(int32_t *a)", program, lowering)}"""


def to_gas(program: Program, name: str, *, comment: str = "", lowering: str = "gpr") -> str:
    """A standalone x86-64 GNU assembler file defining ``name(int32_t *a)`` (System V:
    the pointer in ``%rdi``); ``lowering`` is ``"gpr"`` or ``"sse"`` (mov/min/max kernels
    only; see the module docstring)."""
    check_name(name)
    _check(program, lowering)
    layout = program.layout
    regs = _registers(program)
    names = _GAS_REGISTERS if lowering == "gpr" else _XMM_REGISTERS
    mapping = {r: names[i] for i, r in enumerate(regs)}
    saved = [_CALLEE_SAVED[mapping[r]] for r in regs if mapping[r] in _CALLEE_SAVED]

    def operand(loc: int) -> str:
        if layout.is_memory(loc):
            return _memory(loc, "%rdi")
        return f"%{mapping[loc - layout.n]}"

    lines = [f"# {_comment(comment)}"] if comment else []
    lines += [
        f"# void {name}(int32_t *a): sorts a[0..{layout.n - 1}] in place, branch-free.",
        "# Exported by alphadev.",
        *(f"# {line.strip()}" for line in _LOWERING_NOTE[lowering].splitlines()),
        "# Toy registers: " + ", ".join(f"r{r} = %{mapping[r]}" for r in regs),
        "    .text",
        f"    .globl {name}",
        f"    .type {name}, @function",
        f"{name}:",
        *(f"    pushq %{reg}" for reg in saved),
        *(f"    {line}" for line in _asm_lines(program, operand, lowering)),
        *(f"    popq %{reg}" for reg in reversed(saved)),
        "    ret",
        f"    .size {name}, .-{name}",
        '    .section .note.GNU-stack,"",@progbits',
        "",
    ]
    return "\n".join(lines)


class HeaderKernel(Protocol):
    """What :func:`to_c_header` reads of a kernel (:class:`alphadev.catalogue.HeaderKernel`)."""

    n: int
    program: Program
    lowering: str
    source: str


#: The largest n for which :func:`to_c_header` takes a kernel (and a ``switch`` case).
MAX_HEADER_N = 16


def to_c_header(kernels: Sequence[HeaderKernel], *, title: str = "sorts.h") -> str:
    """One C header holding ``static inline void alphadev_sort{n}_i32(int32_t *a)`` for each
    kernel (inline assembly in its ``lowering`` on x86-64 with GCC or Clang, the portable
    branch-free C elsewhere or with ``-DALPHADEV_PORTABLE``), and ``static inline void
    sort_small_i32(int32_t *a, size_t n)``: nothing for n = 0 or 1, the kernel for a size that
    has one, an insertion sort for any other n. ``title`` opens the top comment."""
    by_n: dict[int, HeaderKernel] = {}
    for kernel in kernels:
        if kernel.program.layout.n != kernel.n:
            raise ExportError(f"the kernel for n={kernel.n} sorts {kernel.program.layout.n} values")
        if not 2 <= kernel.n <= MAX_HEADER_N:
            raise ExportError(f"n={kernel.n}: the header takes kernels for n = 2..{MAX_HEADER_N}")
        if kernel.n in by_n:
            raise ExportError(f"two kernels for n={kernel.n}")
        try:
            _check(kernel.program, kernel.lowering)
        except ExportError as exc:
            raise ExportError(f"the kernel for n={kernel.n} ({kernel.source}): {exc}") from None
        by_n[kernel.n] = kernel
    ordered = [by_n[n] for n in sorted(by_n)]
    top = [
        f"/* {_comment(title)}: branch-free sorting kernels for small int32_t arrays, generated",
        " * by alphadev. Paste it into a project; it needs C99 (or C++) and nothing else.",
        " *",
        " * Kernels (instructions of the toy machine, lowering, where the kernel came from):",
    ]
    top += [f" *   alphadev_sort{k.n}_i32: {len(k.program)} instructions, lowering {k.lowering}, "
            f"from {_comment(k.source)}" for k in ordered]  # fmt: skip
    top += [
        " *",
        " * On x86-64 with GCC or Clang each kernel is inline assembly. Lowering gpr: cmp/cmov on",
        " * general registers. Lowering sse: SSE4.1 pminsd/pmaxsd on xmm registers, so the CPU",
        " * must have SSE4.1 (x86-64-v2: every mainstream x86-64 CPU since 2013). Elsewhere, or",
        " * when compiled with -DALPHADEV_PORTABLE, each kernel is branch-free plain C (compilers",
        " * turn its selects into conditional moves on common targets, but C cannot promise it).",
        " *",
        " * sort_small_i32(a, n) sorts a[0..n-1] ascending in place: nothing to do for n = 0 or",
        f" * 1; the kernel for n = {', '.join(str(k.n) for k in ordered) or '(none)'}; a plain "
        "insertion sort for any other n",
        " * (quadratic: meant for small n; use qsort for large arrays).",
        " */",
        "#ifndef ALPHADEV_SORTS_H",
        "#define ALPHADEV_SORTS_H",
        "",
        "#include <stddef.h>",
        "#include <stdint.h>",
        "",
    ]
    parts = ["\n".join(top)]
    for k in ordered:
        signature = f"static inline void alphadev_sort{k.n}_i32(int32_t *a)"
        parts.append(
            f"/* {_comment(k.source)}: sorts a[0..{k.n - 1}], {len(k.program)} instructions, "
            f"lowering {k.lowering}. */\n" + _c_definitions(signature, k.program, k.lowering)
        )
    cases = "".join(
        f"    case {k.n}:\n        alphadev_sort{k.n}_i32(a);\n        return;\n" for k in ordered
    )
    parts.append(f"""static inline void sort_small_i32(int32_t *a, size_t n) {{
    size_t i, j;
    switch (n) {{
    case 0:
    case 1:
        return;
{cases}    default:
        break;
    }}
    for (i = 1; i < n; i++) {{ /* insertion sort for the sizes without a kernel */
        int32_t v = a[i];
        for (j = i; j > 0 && a[j - 1] > v; j--)
            a[j] = a[j - 1];
        a[j] = v;
    }}
}}

#endif /* ALPHADEV_SORTS_H */
""")
    return "\n".join(parts)
