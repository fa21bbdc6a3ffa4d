"""Read the seeds' code listings at test time (they are not copied into hamax).

The seeds live in `../shared/seeds/` beside the clone. A listing is found by
the text around it and cut out exactly; the only edits allowed are the import
line and, where the seed's text extraction damaged the code (lost newlines or
a typo from the PDF), a repair that the tests prove touches nothing but
whitespace or the named characters.
"""

import ast
import contextlib
import io
import keyword
import pathlib
import re
import warnings

import jax


SEEDS = pathlib.Path(__file__).resolve().parents[2] / "shared" / "seeds"


def seed_text(prefix: str) -> str:
    """The text of the seed file `SEEDS/<prefix>_*.txt`; fails when missing."""
    matches = sorted(SEEDS.glob(f"{prefix}_*.txt"))
    if not matches:
        raise FileNotFoundError(
            f"seed {prefix}_*.txt not found in {SEEDS}: the seeds must sit in "
            "../shared/seeds beside the hamax clone (CI checks them out there)."
        )
    return matches[0].read_text()


def fenced_before(text: str, caption: str) -> str:
    """The ``` fenced block that ends just before `caption` (a paper listing)."""
    end = text.index(caption)
    close = text.rindex("```", 0, end)
    open_ = text.rindex("```", 0, close)
    return text[open_ + 3 : close].strip("\n")


def between(text: str, start: str, end: str, *, after: str = "") -> str:
    """The text from `start` (included) up to `end` (excluded), searching
    from the first occurrence of `after`."""
    i = text.index(start, text.index(after) if after else 0)
    j = text.index(end, i + len(start))
    return text[i:j].rstrip("\n")


def line_after(text: str, marker: str, n: int = 1, *, after: str = "") -> list[str]:
    """The `n` lines that follow the line containing `marker`."""
    i = text.index(marker, text.index(after) if after else 0)
    rest = text[i:].split("\n")[1 : n + 1]
    return rest


def squeeze(s: str) -> str:
    """`s` without any whitespace (to prove a repair only touched whitespace)."""
    return re.sub(r"\s+", "", s)


def insert_newlines(code: str, anchors: list[str]) -> str:
    """Repair a listing whose newlines were lost: put a newline before each
    anchor (each must occur exactly once)."""
    for a in anchors:
        assert code.count(a) == 1, f"anchor {a!r} occurs {code.count(a)} times"
        code = code.replace(a, "\n" + a)
    return code


@contextlib.contextmanager
def user_mode():
    """JAX as a user runs it: float32, default promotion rules (the test suite
    turns on x64 and strict promotion)."""
    with (
        jax.enable_x64(False),
        jax.numpy_dtype_promotion("standard"),
        jax.numpy_rank_promotion("allow"),
    ):
        yield


def run(code: str, namespace: dict | None = None) -> tuple[dict, str]:
    """Execute a listing as a user would (float32, JAX's default promotion
    rules), returning its namespace and what it printed."""
    ns = {"__name__": "__seed__"} if namespace is None else namespace
    out = io.StringIO()
    with user_mode(), contextlib.redirect_stdout(out), warnings.catch_warnings():
        # Notebook code writes "$\\Delta x$" in plain strings and calls
        # plt.show() on the non-interactive test backend: neither is an error.
        warnings.filterwarnings("ignore", "invalid escape sequence")
        warnings.filterwarnings("ignore", "FigureCanvasAgg is non-interactive")
        exec(compile(code, "<seed listing>", "exec"), ns)
    return ns, out.getvalue()


# ---------------------------------------------------------------------------
# Seed 002 (the HAMUX v0.1 README as a web page): the text extraction moved
# the leading plain text of every code line (the part before the first
# highlighted token: number, operator, keyword, builtin, string or comment) to
# the start of the next line, dropped indentation and empty lines, and put the
# last line's plain text at the very end. `unscramble` undoes exactly that and
# `rescramble` redoes it, so a test can prove the round trip is the identity.
_TOKEN = re.compile(r"\s+|[A-Za-z_]\w*|\d[\w.]*|.")
_HIGHLIGHTED = set(keyword.kwlist) | {"print", "len", "all", "zip", "range", "sum"}


def _plain_prefix(line: str) -> str:
    pos, prev = 0, ""
    for m in _TOKEN.finditer(line):
        tok = m.group()
        word = tok[0].isalpha() or tok[0] == "_"
        highlighted = (
            tok[0].isdigit()
            or tok in "=+-*/@<>%!&|^~\"'#"
            or (word and tok in _HIGHLIGHTED and prev != ".")
        )
        if highlighted:
            return line[:pos]
        pos, prev = m.end(), (tok if not tok.isspace() else prev)
    return line


def _indent(lines: list[str]) -> str:
    # Block structure from the code itself: `:` opens a block, `return` closes
    # the function, an empty line closes a block nested inside a function.
    out: list[str] = []
    fdef: list[int] = []
    level = 0
    for line in lines:
        if not line:
            if fdef and level > fdef[-1] + 1:
                level -= 1
            out.append("")
            continue
        out.append("    " * level + line)
        code = line.split("#")[0].rstrip()
        if code.startswith("def "):
            fdef.append(level)
        if code.endswith(":"):
            level += 1
        elif code.startswith("return") and fdef:
            level = fdef.pop()
    return "\n".join(out)


def unscramble(text: str) -> str:
    """Undo seed 002's code-block scrambling (see above); returns Python code."""
    lines = text.split("\n")
    last = lines[-1]
    tails = [""] + [
        last[m.start() + 1 :] for m in re.finditer(" ", last)
    ]  # candidates for the last line's plain text
    for tail in sorted(tails, key=len, reverse=True):
        body = lines[:-1] + [last[: len(last) - len(tail)].rstrip() if tail else last]
        out, prev = [], ""
        for k, m in enumerate(body):
            rest = m[len(prev) :] if m.startswith(prev) else None
            if rest is None:
                break
            nxt = _plain_prefix(body[k + 1]) if k + 1 < len(body) else tail + " "
            out.append((nxt + rest).strip() if tail or k + 1 < len(body) else rest)
            prev = nxt
        else:
            code = _indent(out)
            try:
                ast.parse(code)
            except SyntaxError:
                continue
            if rescramble(code) == text:
                return code
    raise ValueError("seed 002 listing could not be unscrambled")


def rescramble(code: str) -> str:
    """The seed extraction's transformation, applied to Python `code`."""
    lines = [ln.strip() for ln in code.split("\n")]
    out, prev = [], ""
    for line in lines:
        p = _plain_prefix(line)
        m = prev + line[len(p) :]
        if m:
            out.append(m)
        prev = p
    if prev:
        out[-1] = out[-1] + " " + prev.strip()
    return "\n".join(out)
