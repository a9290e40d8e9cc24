"""The Textual application. Nothing outside this package imports Textual.

Textual paints at most MAX_FPS frames a second, on a fixed grid: after the frame that
echoes a search keystroke, the frame with the new rows waited up to two periods (33 ms
at Textual's default of 60). At 120 a search keystroke's rows show about 15 ms sooner
(bench/tui_first_rows.py); frames are only painted when something changed, so an idle
app costs nothing more. Set before Textual is first imported; TEXTUAL_FPS still wins.
"""

import os

os.environ.setdefault("TEXTUAL_FPS", "120")
