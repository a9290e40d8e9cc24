"""Text rules: accent-insensitive folding for search, control-character checks."""

from __future__ import annotations

import re
import unicodedata

# C0 controls, DEL and C1 controls (tabs and line breaks are controls too). Checking a
# whole row at once with it is what keeps an import fast; find_control_char names the
# culprit after.
CONTROL_RE = re.compile("[\x00-\x1f\x7f-\x9f]")


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
