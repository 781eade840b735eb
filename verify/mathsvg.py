r"""Formulas for the report: a theorem's LaTeX as a self-contained SVG (matplotlib's mathtext) or as plain text.

mathtext parses a subset of TeX.  :func:`for_mathtext` rewrites the few constructs of the theorem records that
it does not accept (``\le``, ``\frac1T`` with unbraced arguments, ``\overline W``, ``\text{...}``); a formula
mathtext still cannot parse has no SVG, and the report shows :func:`plain_text` instead, never the LaTeX source.
The SVG draws every glyph as a path (no font is needed to view it) and holds no date, so the same formula
gives the same bytes.
"""

from __future__ import annotations

import functools
import io
import re

#: Commands mathtext spells differently.
_RENAMED = {r"\le": r"\leq", r"\ge": r"\geq", r"\ne": r"\neq"}
#: Commands taking one argument that the theorem records sometimes write without braces (``\frac1T``).
_ONE_ARG = ("overline", "widetilde", "widehat", "bar", "hat", "tilde", "sqrt", "mathbb", "mathcal", "mathrm")
_FONT_SIZE = 16.0  # points; the HTML scales the image down to the page width if needed


def _braced(arg: str) -> str:
    return arg if arg.startswith("{") else "{" + arg + "}"


# One argument of a command: a braced group (one nesting level), a command name, or one character.
_ARG = r"(\{(?:[^{}]|\{[^{}]*\})*\}|\\[A-Za-z]+|[^\s{}\\])"


def for_mathtext(latex: str) -> str:
    r"""``latex`` rewritten into the TeX subset mathtext parses: ``\le`` → ``\leq``, ``\frac1T`` →
    ``\frac{1}{T}``, ``\overline W`` → ``\overline{W}``, ``\text{a b}`` → ``\mathrm{a\ b}``."""
    s = re.sub(r"\\(le|ge|ne)(?![A-Za-z])", lambda m: _RENAMED["\\" + m.group(1)], latex)
    s = re.sub(r"\\text\{([^{}]*)\}", lambda m: r"\mathrm{" + m.group(1).replace(" ", r"\ ") + "}", s)
    s = re.sub(r"\\frac\s*" + _ARG + r"\s*" + _ARG, lambda m: r"\frac" + _braced(m.group(1)) + _braced(m.group(2)), s)
    names = "|".join(_ONE_ARG)
    return re.sub(r"\\(" + names + r")(?![A-Za-z])\s*" + _ARG, lambda m: "\\" + m.group(1) + _braced(m.group(2)), s)


@functools.lru_cache(maxsize=256)
def svg(latex: str) -> bytes | None:
    """``latex`` (one formula, without ``$``) drawn by mathtext as SVG bytes, or None when mathtext cannot parse
    it (or matplotlib is missing).  The SVG is sized to the formula at 16 pt; its glyphs are paths."""
    try:
        import matplotlib
        from matplotlib.figure import Figure
        from matplotlib.font_manager import FontProperties
        from matplotlib.mathtext import MathTextParser
    except ImportError:
        return None
    text = "$" + for_mathtext(latex) + "$"
    prop = FontProperties(size=_FONT_SIZE)
    # ValueError: mathtext cannot parse it.  OSError: matplotlib looks a mathtext font up by a bare name
    # ("bb" for \mathbb) that resolves against the working directory when that holds an entry of the same
    # name (seen: IsADirectoryError '/tmp/bb'); the formula is then shown as plain text instead.
    try:
        width, height, depth, *_ = MathTextParser("path").parse(text, dpi=72, prop=prop)
        fig = Figure(figsize=(width / 72, height / 72))
        fig.text(0, depth / height, text, fontproperties=prop)
        buf = io.BytesIO()
        with matplotlib.rc_context({"svg.fonttype": "path", "svg.hashsalt": "verify-formula"}):
            fig.savefig(buf, format="svg", transparent=True, metadata={"Date": None, "Creator": None})
    except (ValueError, OSError):
        return None
    return _minify(buf.getvalue().decode())


def _minify(text: str) -> bytes:
    """matplotlib's SVG without what a viewer does not need: the XML prolog, metadata, comments (which hold the
    LaTeX source), line breaks inside paths, and digits of a glyph's position beyond 0.01 of a unit (a unit is
    1/100 of the font size)."""
    text = text[text.index("<svg"):]
    text = re.sub(r"<metadata>.*?</metadata>|<!--.*?-->", "", text, flags=re.S)
    text = re.sub(r"\s*\n\s*", " ", text)
    text = re.sub(r"translate\((-?[\d.]+) (-?[\d.]+)\)",
                  lambda m: f"translate({float(m.group(1)):.2f} {float(m.group(2)):.2f})", text)
    return re.sub(r">\s+<", "><", text).encode()


_SYMBOLS = {
    "alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "Delta": "Δ", "theta": "θ", "lambda": "λ", "mu": "μ",
    "sigma": "σ", "omega": "ω", "Phi": "Φ", "phi": "φ", "nabla": "∇", "sum": "Σ", "le": "≤", "leq": "≤", "ge": "≥",
    "geq": "≥", "ne": "≠", "cdot": "·", "infty": "∞", "inf": "inf", "min": "min", "max": "max", "log": "log",
    "|": "‖", "{": "{", "}": "}", "qquad": "  ", "quad": " ", ",": " ", ";": " ", " ": " ", "!": "", "left": "",
    "right": "", "mathbb": "", "mathcal": "", "mathrm": "", "text": "",
}
#: Accents as combining characters (W̃, W̄).
_ACCENTS = {"widetilde": "\u0303", "tilde": "\u0303", "overline": "\u0304", "bar": "\u0304", "hat": "\u0302",
            "widehat": "\u0302"}
_SUB = str.maketrans("0123456789+-=()aehijklmnoprstuvx<", "₀₁₂₃₄₅₆₇₈₉₊₋₌₍₎ₐₑₕᵢⱼₖₗₘₙₒₚᵣₛₜᵤᵥₓ<")
_SUP = str.maketrans("0123456789+-=()abdeghijklmnoprstuvwTF*", "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁼⁽⁾ᵃᵇᵈᵉᵍʰⁱʲᵏˡᵐⁿᵒᵖʳˢᵗᵘᵛʷᵀꟳ*")


def _atom(text: str) -> str:
    """``text`` as one factor: itself if it is a single word or number, else in parentheses."""
    return text if re.fullmatch(r"[\w.′'*ᵖᵀ⁰¹²³₀₁₂ₘᵢₙₐₓ]+", text) else f"({text})"


def _group(s: str, i: int) -> tuple[str, int]:
    """The argument starting at ``s[i]`` (a braced group without its braces, a command, or one character) and
    the index after it."""
    while i < len(s) and s[i] == " ":
        i += 1
    if i >= len(s):
        return "", i
    if s[i] == "{":
        depth, j = 0, i
        while j < len(s):
            depth += {"{": 1, "}": -1}.get(s[j], 0)
            if depth == 0:
                return s[i + 1:j], j + 1
            j += 1
        return s[i + 1:], len(s)
    if s[i] == "\\":
        m = re.match(r"\\([A-Za-z]+|.)", s[i:])
        return m.group(0), i + len(m.group(0))
    return s[i], i + 1


_SMALL = {"_": {chr(v) for v in _SUB.values()}, "^": {chr(v) for v in _SUP.values()}}


def _script(body: str, table: dict[int, int], mark: str) -> str:
    """A sub/superscript in Unicode when every character has a small form, else ``_(...)`` / ``^(...)``."""
    text = plain_text(body).replace(" ", "")
    small = text.translate(table)
    if text and all(c in _SMALL[mark] for c in small):
        return small
    return f"{mark}{text}" if len(text) == 1 else f"{mark}({text})"


def plain_text(latex: str) -> str:
    r"""A readable one-line Unicode form of ``latex``: ``\frac{a}{b}`` → ``(a)/(b)``, ``\sqrt{x}`` → ``√(x)``,
    Greek letters and relations as characters, sub/superscripts as small characters where Unicode has them.

    For the report's text (alt text, the Markdown fallback) when no SVG can be drawn; it is not TeX."""
    out: list[str] = []
    i = 0
    s = latex
    while i < len(s):
        c = s[i]
        if c == "\\":
            m = re.match(r"\\([A-Za-z]+|.)", s[i:])
            name, i = m.group(1), i + len(m.group(0))
            if name == "frac":
                num, i = _group(s, i)
                den, i = _group(s, i)
                out.append(f" {_atom(plain_text(num))}/{_atom(plain_text(den))} ")
            elif name == "sqrt":
                arg, i = _group(s, i)
                out.append("√" + _atom(plain_text(arg)))
            elif name in _ACCENTS:
                arg, i = _group(s, i)
                t = plain_text(arg)
                out.append(t + _ACCENTS[name] if len(t) == 1 else f"{t}{_ACCENTS[name]}")
            else:
                out.append(_SYMBOLS.get(name, name))
        elif c in "_^":
            arg, i = _group(s, i + 1)
            out.append(_script(arg, _SUB if c == "_" else _SUP, c))
        elif c in "{}":
            i += 1
        else:
            out.append(c)
            i += 1
    return re.sub(r"\s+", " ", "".join(out)).strip()
