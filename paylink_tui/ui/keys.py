"""Keys in order: each key is handled completely before the next one is dispatched.

Textual hands a key to the app, which checks its priority bindings and then *posts* the key
to the focused widget; that widget, its parents and the app's other bindings handle it on
later turns of the loop, and `Widget.focus()` itself only takes effect on a later turn. A
burst of keys (a fast typist, keys typed over the first frame while the app loads, a
paste-like read of several keys) could therefore overtake one another:
- `/` moved the focus to the search box, but the letters right behind it were already on
  their way to the table, where `h` opens Historial;
- in the "Liga de pago" dialog an Enter (a priority binding, handled at once) read the
  address before the input had handled the last letters typed before it;
- keys that arrived before the first screen had composed found no widget to go to.

`OrderedKeys` holds every key the driver delivers in a queue of its own and releases them
one at a time, each when:
1. the screen on top has been mounted and its first focus set (a screen pushed by the
   previous key, the pending screen at start-up), and everything the previous key caused
   (deferred focus changes, bubbled messages) has been processed; and the screen is not
   about to act on an earlier key (`keys_wait_for()`, see below);
2. then the key goes through Textual's own dispatch, unchanged.
"Processed" is known, not guessed: a callback is posted behind the key to each message
pump on its path (the widget, its ancestors, the app) and awaited; message pumps handle
their queue in order, so when the callback runs, everything posted before it has run too.
No timer decides when a key is ready.

A screen that acts on a key later, once something it needs has arrived (the pending screen
opens "Liga de pago" for an `l` typed ahead of its rows), says so with `keys_wait_for()`:
an awaitable that completes when it has acted, or None. The keys behind are held until
then, so an address typed after `l` goes into the dialog's input, not onto the table.

A safety valve keeps the keyboard alive should a pump on the path never answer (a bug,
a widget removed mid-way): after `STALL_SECONDS` the key is released anyway and the
stall is logged. It is not how keys are ordered, only what happens if ordering breaks.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import Any

from textual import events
from textual.app import ScreenStackError
from textual.message import Message
from textual.message_pump import MessagePump

log = logging.getLogger(__name__)

STALL_SECONDS = 5.0
# A key's effects travel one message pump per round (widget -> parent -> ... -> app, then
# what those posted). The bound only stops a pathological ping-pong from holding a key.
MAX_ROUNDS = 16


class _Release(Message):
    """Sent to the app itself: dispatch this held key now, in the app's own loop."""

    def __init__(self, key: events.Key | events.Paste,
                 done: asyncio.Future[list[MessagePump]]) -> None:
        super().__init__()
        self.key = key
        self.done = done


class OrderedKeys:
    """Mixed into the App before `App` (class PaylinkApp(OrderedKeys, App))."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._held: deque[events.Key | events.Paste] = deque()
        self._released: set[int] = set()
        self._key_pump: asyncio.Task[None] | None = None
        self._settled_screen: Any = None
        self._when_keys_handled: list[Any] = []

    async def on_event(self, event: events.Event) -> None:
        app: Any = self
        # A paste is typed text too: it keeps its place among the keys.
        if (isinstance(event, (events.Key, events.Paste)) and not event.is_forwarded
                and id(event) not in self._released):
            self._held.append(event)
            if self._key_pump is None or self._key_pump.done():
                self._key_pump = asyncio.create_task(self._release_keys(), name="ordered-keys")
            return
        await super(OrderedKeys, app).on_event(event)  # type: ignore[misc]

    async def on__release(self, message: _Release) -> None:  # Textual's name for _Release
        # Textual's own dispatch (priority bindings, then the focused widget), with what it
        # was forwarded to reported back so the pump can follow the key's path.
        app: Any = self
        key = message.key
        try:
            target = app.focused or app.screen
        except ScreenStackError:  # the app is closing: the key goes nowhere
            message.done.set_result([])
            return
        self._released.add(id(key))
        try:
            await super(OrderedKeys, app).on_event(key)  # type: ignore[misc]
        finally:
            self._released.discard(id(key))
            if not message.done.done():
                # Not forwarded: a priority binding took it in the app, nothing to follow.
                message.done.set_result(_path(target, app) if key.is_forwarded else [app])

    async def _release_keys(self) -> None:
        try:
            await self._release_held()
        except ScreenStackError:  # the app closed meanwhile: the keys go nowhere
            self._held.clear()

    async def _release_held(self) -> None:
        app: Any = self
        loop = asyncio.get_running_loop()
        while self._held:
            await self._settled(app)
            key = self._held.popleft()
            done: asyncio.Future[list[MessagePump]] = loop.create_future()
            if not app.post_message(_Release(key, done)):
                return  # the app is closing
            try:
                path = await asyncio.wait_for(asyncio.shield(done), STALL_SECONDS)
                await self._followed(key, path)
            except TimeoutError:
                log.warning("%r: its handling did not finish in %.0f s; released",
                            key, STALL_SECONDS)
        for callback in self._when_keys_handled:
            app.call_after_refresh(callback)
        self._when_keys_handled.clear()

    def after_held_keys(self, callback: Any) -> None:
        """`callback` after the next refresh once no typed key is waiting: work that can
        wait (a garbage collection) does not hold a key the agent typed ahead."""
        if self._held or (self._key_pump is not None and not self._key_pump.done()):
            self._when_keys_handled.append(callback)
        else:
            self.call_after_refresh(callback)  # type: ignore[attr-defined]

    async def _settled(self, app: Any) -> None:
        """Until the top screen is mounted and focused and is not about to act on an
        earlier key. A screen is waited for once, when it comes on top: a pushed one until
        it has mounted (its AUTO_FOCUS is set while it composes), then what its mount asked
        of the app (`Widget.focus()` runs as an app callback). Its own queue is not waited
        for: it also holds its first paint, which a key does not need."""
        for _ in range(MAX_ROUNDS):
            screen = app.screen
            if screen is not self._settled_screen:
                mounted = getattr(screen, "_mounted_event", None)
                if mounted is not None and not mounted.is_set():
                    try:
                        await asyncio.wait_for(mounted.wait(), STALL_SECONDS)
                    except TimeoutError:
                        log.warning("screen %s did not mount in %.0f s", screen, STALL_SECONDS)
                await self._drained(app)
                self._settled_screen = screen
            waiting = getattr(screen, "keys_wait_for", None)
            pending = waiting() if callable(waiting) else None
            if pending is not None:
                # The screen is about to act on an earlier key (a dialog typed ahead of the
                # rows it needs): the keys behind it belong to what it opens.
                try:
                    await asyncio.wait_for(pending, STALL_SECONDS)
                except TimeoutError:
                    log.warning("screen %s kept keys waiting %.0f s", screen, STALL_SECONDS)
                continue
            if app.screen is screen:
                return

    async def _followed(self, key: events.Key | events.Paste, path: list[MessagePump]) -> None:
        """Until the key has been handled where it ended: up the path from the widget it was
        forwarded to (each pump posts it on to its parent before our callback runs), then
        the app (its own bindings, and the focus changes that `Widget.focus()` defers)."""
        app: Any = self
        for pump in path[:-1]:
            await _barrier(pump)
            if getattr(key, "_stop_propagation", False):
                break  # handled here: it goes no further
        await self._drained(app)

    async def _drained(self, app: Any) -> None:
        for _ in range(MAX_ROUNDS):
            await _barrier(app)
            if _idle(app):
                return


def _path(target: Any, app: Any) -> list[MessagePump]:
    """The widget a key went to, its ancestors up to the screen, and the app."""
    path: list[MessagePump] = []
    node = target
    while node is not None and node is not app:
        path.append(node)
        node = node.parent
    path.append(app)
    return path


def _idle(pump: MessagePump) -> bool:
    queue = getattr(pump, "_message_queue", None)
    return queue is None or queue.empty() or not pump.is_running


async def _barrier(pump: MessagePump) -> None:
    """Return once `pump` has handled everything posted to it before this call."""
    if not pump.is_running:
        return
    loop = asyncio.get_running_loop()
    reached: asyncio.Future[None] = loop.create_future()

    def arrive() -> None:
        if not reached.done():
            reached.set_result(None)

    if not pump.call_later(arrive):
        return  # closed: nothing more will be handled there
    task = getattr(pump, "_task", None)
    waits: set[asyncio.Future[Any]] = {reached}
    if task is not None:
        waits.add(task)  # a pump that stops never answers: stop waiting with it
    await asyncio.wait(waits, timeout=STALL_SECONDS, return_when=asyncio.FIRST_COMPLETED)
