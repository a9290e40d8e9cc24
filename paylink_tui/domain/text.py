"""Text rules: accent-insensitive folding for search, control-character checks."""

from __future__ import annotations

import re
import unicodedata

# C0 controls, DEL and C1 controls (tabs and line breaks are controls too). Checking a
# whole row at once with it is what keeps an import fast; find_control_char names the
# culprit after.
CONTROL_RE = re.compile("[\x00-\x1f\x7f-\x9f]")
# Unicode's bidirectional formatting characters: embeddings and overrides (U+202A-U+202E),
# isolates (U+2066-U+2069), the marks (U+200E, U+200F, U+061C). "Ana\u202eZEREP" is shown
# as "AnaPEREZ": text from outside is refused or cleaned of them.
BIDI_RE = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
# Either kind, in one search (the import's quick path checks a whole row at once).
UNSAFE_RE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _fold_slow(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(stripped.casefold().split())


# Latin letters with accents, folded once: each maps to what _fold_slow makes of it alone
# (á -> a, Ñ -> N). Applied by str.translate, which is what keeps an import of 100,000
# names fast; a text that is still not ASCII after it takes the full Unicode path.
_LATIN_FOLD = str.maketrans({
    chr(c): folded
    for c in range(0xC0, 0x250)
    if (folded := "".join(ch for ch in unicodedata.normalize("NFKD", chr(c))
                          if not unicodedata.combining(ch))).isascii()
    and folded != chr(c)
})


def fold(text: str) -> str:
    """Lower-case and strip accents: "GÓMEZ Peña" -> "gomez pena"."""
    text = text or ""
    if not text.isascii():
        quick = text.translate(_LATIN_FOLD)
        if not quick.isascii():
            return _fold_slow(text)
        text = quick
    return " ".join(text.lower().split())


def strip_accents(text: str) -> str:
    """The same letters without their accents, case kept: "Muñoz José" -> "Munoz Jose"."""
    quick = (text or "").translate(_LATIN_FOLD)
    if quick.isascii():
        return quick
    decomposed = unicodedata.normalize("NFKD", quick)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def find_control_char(text: str) -> str | None:
    """The first control character in text (CR, LF, tab, ESC, …) or None."""
    found = CONTROL_RE.search(text or "")
    return found.group() if found else None


def find_bidi_char(text: str) -> str | None:
    """The first bidirectional formatting character in text (U+202E…) or None."""
    found = BIDI_RE.search(text or "")
    return found.group() if found else None


def clean_text(value: str | None) -> str:
    """Text from outside made plain: each control character (line breaks too) becomes a
    space, bidirectional formatting characters go, blanks at either end go. For what must be
    kept although it is odd (a payment notification), where an import refuses instead."""
    text = value or ""
    if UNSAFE_RE.search(text):
        text = BIDI_RE.sub("", CONTROL_RE.sub(" ", text))
    return text.strip()


def loggable(value: object, limit: int = 120) -> str:
    """A value as it may go into a log line: control and bidirectional characters escaped
    (a line break in a field can't forge a second log line), long text cut."""
    text = "" if value is None else str(value)
    if UNSAFE_RE.search(text):
        text = UNSAFE_RE.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def describe_char(ch: str) -> str:
    names = {"\r": "retorno de carro (CR)", "\n": "salto de línea (LF)", "\t": "tabulador",
             "\x1b": "escape (ESC)", "\x00": "carácter nulo"}
    return names.get(ch, f"carácter de control U+{ord(ch):04X}")


def full_name(first: str, last: str, second_last: str | None = None) -> str:
    return " ".join(p for p in (first, last, second_last or "") if p)


# Word characters as FTS5's unicode61 tokenizer sees them (with tokenchars '-').
_SEARCH_WORD = re.compile(r"(?:[^\W_]|-)+")


def search_words(text: str) -> list[str]:
    """The folded words of a text, split as the search index splits them:
    "[bold]Rosa[/bold] PEÑA" -> ["bold", "rosa", "bold", "pena"]."""
    text = text or ""
    if text.isascii():
        if text.isalnum():  # a policy or receipt number: the common case, 200,000 per import
            return [text.lower()]
        folded = " ".join(text.lower().split())
    else:
        folded = fold(text)
    return [w for w in _SEARCH_WORD.findall(folded) if w.strip("-")]


def search_text(*parts: str) -> str:
    """What a receipt is found by: the words of its policy, receipt and holder's name.

    Stored one space apart, so that "each typed word starts a stored word" is the same rule
    for the word index (FTS5) and for LIKE '% word%' (the index walk and PostgreSQL).
    """
    return " ".join(w for part in parts for w in search_words(part))


def plural(count: int, one: str, many: str) -> str:
    """`1 liga`, `1,200 ligas`."""
    return f"{count:,} {one if count == 1 else many}"


def printable(value: str, limit: int = 60) -> str:
    """Escape control characters (\\n, \\x1b, …) and bidirectional overrides (U+202E) so a
    bad value can drive neither the terminal nor the order in which it is read."""
    text = "".join(
        (ch.encode("unicode_escape").decode("ascii") if UNSAFE_RE.match(ch) else ch)
        for ch in value
    )
    return text if len(text) <= limit else text[: limit - 1] + "…"
