"""A QR code drawn with half-block characters: two modules per character cell, so a
link's code fits beside the text of the confirmation. The matrix comes from segno."""

from __future__ import annotations

import segno
from rich.style import Style
from rich.text import Text

# Dark modules are drawn in the foreground colour on a light background, whatever the
# terminal's own colours, because phone cameras want dark-on-light.
_STYLE = Style(color="black", bgcolor="white")
_CELLS = {(False, False): " ", (True, False): "▀", (False, True): "▄", (True, True): "█"}


def qr_text(data: str, *, border: int = 2) -> Text:
    code = segno.make(data, error="l")
    rows = [[bool(m) for m in row] for row in code.matrix_iter(scale=1, border=border)]
    if len(rows) % 2:
        rows.append([False] * len(rows[0]))
    lines = []
    for top, bottom in zip(rows[0::2], rows[1::2], strict=True):
        lines.append("".join(_CELLS[(t, b)] for t, b in zip(top, bottom, strict=True)))
    return Text("\n".join(lines), style=_STYLE, no_wrap=True)
