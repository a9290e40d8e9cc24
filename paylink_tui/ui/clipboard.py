"""Copying a link, and knowing whether it was copied.

Textual copies with the terminal's OSC 52 sequence, and nothing tells whether the terminal
took it (tmux, by default, does not). So the link is also handed to the system's clipboard
through pyperclip (Windows, macOS, and on Linux wl-copy, xclip or xsel when there is a
desktop) and read back: only then is the agent told it is on the clipboard; otherwise the
screen says how to copy it by hand. Blocking (a clipboard program runs): call it from a
thread worker.
"""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)


def copy_known(text: str) -> bool:
    """Put `text` on the system clipboard; True only when reading it back gives `text`."""
    try:
        import pyperclip

        pyperclip.copy(text)
        return pyperclip.paste() == text
    except Exception:  # no clipboard here (a server, SSH, a bare terminal): say how instead
        log.debug("no system clipboard", exc_info=True)
        return False
