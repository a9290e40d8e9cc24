"""Text rules: accent-insensitive folding for search, control-character checks."""

from __future__ import annotations

import unicodedata

# C0 controls, DEL and C1 controls. Tabs and line breaks are controls too.
_CONTROL = {chr(c) for c in range(0x00, 0x20)} | {chr(0x7F)} | {chr(c) for c in range(0x80, 0xA0)}


def fold(text: str) -> str:
    """Lower-case and strip accents: "GÓMEZ Peña" -> "gomez pena"."""
    decomposed = unicodedata.normalize("NFKD", text or "")
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(stripped.casefold().split())


def find_control_char(text: str) -> str | None:
    """The first control character in text (CR, LF, tab, ESC, …) or None."""
    for ch in text or "":
        if ch in _CONTROL:
            return ch
    return None


def describe_char(ch: str) -> str:
    names = {"\r": "retorno de carro (CR)", "\n": "salto de línea (LF)", "\t": "tabulador",
             "\x1b": "escape (ESC)", "\x00": "carácter nulo"}
    return names.get(ch, f"carácter de control U+{ord(ch):04X}")


def full_name(first: str, last: str, second_last: str | None = None) -> str:
    return " ".join(p for p in (first, last, second_last or "") if p)
