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

__all__ = ["MAX_NAME", "ExportError", "check_name", "to_c", "to_gas"]


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
#: Macro families of ``<stdint.h>`` (``INT32_MAX``, ``UINT8_C``, ``SIZE_MAX``, ...).
_STDINT_MACRO = re.compile(r"[A-Z0-9_]*_(MAX|MIN|C|WIDTH)")

_GAS_REGISTERS = (
    "eax", "ecx", "edx", "esi", "r8d", "r9d", "r10d", "r11d",
    "ebx", "ebp", "r12d", "r13d", "r14d", "r15d",
)  # fmt: skip
_CALLEE_SAVED = {"ebx": "rbx", "ebp": "rbp", "r12d": "r12", "r13d": "r13", "r14d": "r14",
                 "r15d": "r15"}  # fmt: skip
_CONDITION = {Op.CMOVL: "<", Op.CMOVG: ">", Op.CMOVLE: "<=", Op.CMOVGE: ">="}


class ExportError(ValueError):
    """A program that cannot be exported faithfully, or a bad function name."""


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
    if name.startswith("__") or re.match(r"_[A-Z]", name):
        raise ExportError(f"function name {name!r} is reserved in C (it starts with __ or _X)")
    if name.endswith("_t") or _STDINT_MACRO.fullmatch(name):
        raise ExportError(f"function name {name!r} is reserved (a type or macro name)")


def _check(program: Program, name: str) -> None:
    check_name(name)
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
