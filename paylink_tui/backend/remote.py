"""The remote backend: the `Backend` interface over the agency server's `/api/v1/` (team mode).

Every method is one HTTP request built from backend/routes.py's table with its codec, so the
client and the server cannot drift. It imports neither SQLAlchemy nor the MIT client nor the
mail code (a test checks `sys.modules`): the agent's machine holds no secret and no database.

Failures the agent reads, never a traceback:
- the server is down, slow (past `timeout`), or answers something that is not the API's JSON:
  `BackendUnavailable` with a Spanish sentence naming the server;
- 401 on a call: the session ended. When a `sign_in_again` hook is set (the TUI sets one: a
  sign-in dialog), the calling thread waits for it and the call is made again with the new
  token, so what the agent was doing goes on; without a hook (the commands), SessionExpired;
- any other refusal: the server's own AgentError, raised again as the same class with the
  same Spanish message (codec.error_from_json).

Events come from the server's Server-Sent Events stream, read by a background thread
(remote_events.py); `events()` hands out what it has buffered, so the TUI's polling loop
works unchanged over both backends, and `on_events` (when set) is told at once.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator, Sequence
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from paylink_tui.backend import routes as table
from paylink_tui.backend.codec import CodecError, error_from_json, from_json, hints, to_json
from paylink_tui.domain.errors import (
    AgentError,
    BackendUnavailable,
    SessionExpired,
)
from paylink_tui.domain.promotions import InstallmentPlan
from paylink_tui.domain.results import (
    SORT_POLICY,
    BatchOutcome,
    BatchPlan,
    BatchProgress,
    EmailResult,
    EventBatch,
    GeneratedLink,
    Identity,
    ImportReport,
    LinkDetail,
    LinkPreview,
    LinkRow,
    OffListReceipt,
    PendingPage,
    PendingRow,
    PendingTotals,
    ReceiptDetail,
    ReconcileReport,
    ReviewItem,
    ReviewOutcome,
    SortKey,
    Summary,
)

DEFAULT_TIMEOUT = 15.0  # a server slower than this is "not answering"
BATCH_READ_TIMEOUT = 600.0  # between two progress lines of a batch (MIT may be slow)
IMPORT_TIMEOUT = 600.0


def _unavailable(server: str, why: str) -> BackendUnavailable:
    return BackendUnavailable(f"No hay conexión con el servidor de la agencia ({server}): "
                              f"{why}. Se vuelve a intentar en unos segundos.")


def transport_reason(exc: httpx.HTTPError) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return "no respondió a tiempo"
    if isinstance(exc, httpx.ConnectError):
        return "no acepta conexiones (¿está apagado o sin red?)"
    return "la conexión se interrumpió"


class RemoteBackend:
    """`Backend` over HTTP. `token`: the bearer token of a signed-in session."""

    def __init__(self, server: str, token: str, *, user: str = "",
                 timeout: float = DEFAULT_TIMEOUT,
                 on_token: Callable[[str], None] | None = None,
                 transport: httpx.BaseTransport | None = None,
                 clock: Callable[[], datetime] | None = None) -> None:
        self.server = server.rstrip("/")
        self._clock = clock  # tests: the server's frozen clock
        self.user = user
        self.timeout = timeout
        self._token = token
        self._on_token = on_token  # the new token after a sign-in again (login's file)
        self._transport = transport
        self._client = self._new_client()
        self._auth_lock = threading.Lock()
        self._identity: Identity | None = None
        self._events: Any = None  # remote_events.EventReader, started by events()
        # Hooks the TUI sets (any thread may call them):
        # sign_in_again() -> bool: ask for the password; True once signed in again.
        self.sign_in_again: Callable[[], bool] | None = None
        # on_connection(message or None): the server stopped (message) or came back (None).
        self.on_connection: Callable[[str | None], None] | None = None
        # on_events(): the stream buffered new events: poll now.
        self.on_events: Callable[[], None] | None = None
        self._down: str | None = None

    def _new_client(self) -> httpx.Client:
        return httpx.Client(base_url=self.server, timeout=self.timeout,
                            transport=self._transport, follow_redirects=False,
                            headers={"Accept": "application/json",
                                     "User-Agent": "paylink-tui"})

    def __repr__(self) -> str:
        return f"RemoteBackend({self.server!r}, user={self.user!r})"

    # -- the session -----------------------------------------------------------------------

    @property
    def token(self) -> str:
        return self._token

    def _headers(self, token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    def sign_in(self, user: str, password: str, *, new_password: str | None = None) -> None:
        """Sign in again (the TUI's dialog): the new token replaces the old one. Raises
        SignInRefused, PasswordChangeRequired, TooManyAttempts, BackendUnavailable."""
        token, _expires, identity = sign_in(self.server, user, password,
                                            new_password=new_password,
                                            timeout=self.timeout, transport=self._transport)
        self._token = token
        self.user = identity.user
        self._identity = identity
        if self._on_token is not None:
            self._on_token(token)

    def _session_ended(self, failed_token: str) -> None:
        """A 401 for `failed_token`: return once a new token is in place, else raise."""
        with self._auth_lock:
            if self._token != failed_token:
                return  # another thread signed in again meanwhile
            hook = self.sign_in_again
            if hook is not None and hook() and self._token != failed_token:
                return
        raise SessionExpired()

    def _report(self, down: str | None) -> None:
        if down == self._down:
            return
        self._down = down
        hook = self.on_connection
        if hook is not None:
            try:
                hook(down)
            except Exception:  # noqa: BLE001, S110 - a hook never breaks a call
                pass

    # -- one call ----------------------------------------------------------------------------

    def _request(self, method: str, path: str, *, query: dict[str, str] | None = None,
                 body: Any = None, content: Any = None, timeout: Any = None,
                 headers: dict[str, str] | None = None) -> httpx.Response:
        """One request with the session's token; a 401 waits for a sign-in again and the
        request is made again (at most twice); transport failures: BackendUnavailable."""
        for _ in range(3):
            token = self._token
            try:
                got = self._client.request(
                    method, path, params=query or None,
                    json=body if content is None else None, content=content,
                    headers={**self._headers(token), **(headers or {})},
                    timeout=timeout if timeout is not None else self.timeout)
            except httpx.HTTPError as exc:
                error = _unavailable(self.server, transport_reason(exc))
                self._report(error.message)
                raise error from None
            if got.status_code != 401:
                if got.status_code < 500 or _is_api_error(got):
                    self._report(None)
                return got
            self._session_ended(token)
        raise SessionExpired()

    def _call(self, name: str, **kwargs: Any) -> Any:
        route = table.ROUTES[name]
        path, query, body = table.encode_call(route, kwargs)
        method = table.POST if route.kind != "json" else route.method
        got = self._request(method, path, query=query, body=body)
        return self._result(route, got)

    def _result(self, route: table.Route, got: httpx.Response) -> Any:
        from paylink_tui.backend.base import Backend

        if got.status_code >= 400:
            error = self._error(got)
            if got.status_code == 404 and route.none_404 == type(error).__name__:
                return None  # the method's "not found" (outside the portfolio too)
            raise error
        if got.status_code == 204:
            return None
        data = self._json(got)
        try:
            return from_json(hints(getattr(Backend, route.name))["return"], data)
        except (CodecError, TypeError):
            raise self._garbage(got) from None

    def _json(self, got: httpx.Response) -> Any:
        try:
            return got.json()
        except (ValueError, UnicodeDecodeError):
            raise self._garbage(got) from None

    def _garbage(self, got: httpx.Response) -> BackendUnavailable:
        error = _unavailable(self.server, f"respondió algo que no se pudo leer (HTTP "
                                          f"{got.status_code})")
        self._report(error.message)
        return error

    def _error(self, got: httpx.Response) -> AgentError:
        try:
            data = got.json()
        except (ValueError, UnicodeDecodeError):
            data = None
        if not isinstance(data, dict) or not isinstance(data.get("message"), str):
            return self._garbage(got)
        return error_from_json(data)

    # -- who and when ----------------------------------------------------------------------

    def identity(self) -> Identity:
        if self._identity is None:
            found = self._call("identity")
            self._identity = Identity(**{**found.__dict__, "server": self.server})
        return self._identity

    def now(self) -> datetime:
        return self._clock() if self._clock is not None else datetime.now(timezone.utc)

    # -- the pending list --------------------------------------------------------------------

    def pending_page(self, *, search: str = "", after: SortKey | None = None,
                     before: SortKey | None = None, last: bool = False,
                     limit: int = 100, sort: str = SORT_POLICY) -> PendingPage:
        return self._call("pending_page", search=search, after=after, before=before,
                          last=last, limit=limit, sort=sort)

    def pending_totals(self, *, search: str = "") -> PendingTotals:
        return self._call("pending_totals", search=search)

    def receipt_detail(self, receipt_id: int) -> ReceiptDetail | None:
        return self._call("receipt_detail", receipt_id=receipt_id)

    def iter_pending(self, *, search: str = "", sort: str = SORT_POLICY) -> Iterator[PendingRow]:
        after: SortKey | None = None
        while True:
            page = self.pending_page(search=search, after=after, limit=500, sort=sort)
            yield from page.rows
            if not page.rows or not page.has_more:
                return
            after = page.last_key

    def off_list(self, *, search: str, limit: int = 5) -> list[OffListReceipt]:
        return self._call("off_list", search=search, limit=limit)

    # -- links -------------------------------------------------------------------------------

    def link_plans(self, amount: Decimal, currency: str) -> tuple[InstallmentPlan, ...]:
        from paylink_tui.domain.promotions import applicable_plans

        return applicable_plans(amount, currency, self.identity().promotions)

    def generate_link(self, *, receipt_numbers: Sequence[str] = (),
                      policy_number: str | None = None, email: str,
                      plans: Sequence[int] | None = None) -> GeneratedLink:
        return self._call("generate_link", receipt_numbers=list(receipt_numbers),
                          policy_number=policy_number, email=email,
                          plans=None if plans is None else list(plans))

    def link_preview(self, *, receipt_numbers: Sequence[str] = (),
                     policy_number: str | None = None) -> LinkPreview:
        return self._call("link_preview", receipt_numbers=list(receipt_numbers),
                          policy_number=policy_number)

    def retry_link(self, reference: str, *, email: str | None = None) -> GeneratedLink:
        return self._call("retry_link", reference=reference, email=email)

    def cancel_link(self, reference: str) -> None:
        self._call("cancel_link", reference=reference)

    def resend_link_email(self, reference: str, *, to: str | None = None) -> EmailResult:
        return self._call("resend_link_email", reference=reference, to=to)

    def set_link_reminders(self, reference: str, *, enabled: bool) -> None:
        self._call("set_link_reminders", reference=reference, enabled=enabled)

    # -- many links at once ------------------------------------------------------------------

    def batch_preview(self, *, receipt_numbers: Sequence[str] = (),
                      search: str | None = None) -> BatchPlan:
        return self._call("batch_preview", receipt_numbers=list(receipt_numbers),
                          search=search)

    def run_batch(self, plan: BatchPlan, *,
                  on_progress: Callable[[BatchProgress], None] | None = None,
                  should_stop: Callable[[], bool] | None = None) -> BatchOutcome:
        from paylink_tui.backend.remote_batch import run_batch

        return run_batch(self, plan, on_progress=on_progress, should_stop=should_stop)

    def stop_batch(self, batch_id: int) -> bool | None:
        return self._call("stop_batch", batch_id=batch_id)

    # -- history -----------------------------------------------------------------------------

    def list_links(self, *, status: str | None = None, mine: bool = False,
                   limit: int | None = 500, search: str = "") -> list[LinkRow]:
        return self._call("list_links", status=status, mine=mine, limit=limit, search=search)

    def link_detail(self, reference: str) -> LinkDetail | None:
        return self._call("link_detail", reference=reference)

    def summary(self) -> Summary:
        return self._call("summary")

    # -- review ------------------------------------------------------------------------------

    def list_review(self) -> list[ReviewItem]:
        return self._call("list_review")

    def apply_review(self, notification_id: int, *, reference: str,
                     accept_differences: bool = False) -> ReviewOutcome:
        return self._call("apply_review", notification_id=notification_id,
                          reference=reference, accept_differences=accept_differences)

    def dismiss_review(self, notification_id: int, *, note: str) -> ReviewOutcome:
        return self._call("dismiss_review", notification_id=notification_id, note=note)

    def reconcile(self, *, day: date | None = None) -> ReconcileReport:
        return self._call("reconcile", day=day)

    # -- import ------------------------------------------------------------------------------

    def import_file(self, path: Path, *, full: bool = False, yes: bool = False,
                    on_progress: Callable[[str, int], None] | None = None) -> ImportReport:
        from paylink_tui.domain.errors import ImportFileError

        route = table.ROUTES["import_file"]
        try:
            size = Path(path).stat().st_size
        except OSError:
            raise ImportFileError(f"No se pudo leer el archivo {path}.") from None
        if size > table.IMPORT_MAX_BODY:
            raise ImportFileError(
                f"El archivo pesa más de {table.IMPORT_MAX_BODY // (1024 * 1024)} MiB, el "
                "límite del servidor: divídalo, o impórtelo en el servidor.")
        path_, query, _ = table.encode_call(route, {"full": full, "yes": yes,
                                                    "filename": Path(path).name})
        if on_progress is not None:
            on_progress("reading", 0)
        with open(path, "rb") as fh:
            data = fh.read()
        got = self._request(table.POST, path_, query=query, content=data,
                            timeout=httpx.Timeout(self.timeout, read=IMPORT_TIMEOUT),
                            headers={"Content-Type": "application/octet-stream"})
        report = self._result(route, got)
        if on_progress is not None:
            on_progress("saving", getattr(report, "rows", 0) or 0)
        return report

    # -- live --------------------------------------------------------------------------------

    def events(self, cursor: str | None = None) -> EventBatch:
        """What the event stream brought after `cursor`. The first call (or a cursor the
        stream does not know) asks the server once, then the stream takes over from there."""
        from paylink_tui.backend.remote_events import EventReader

        reader = self._events
        if reader is None or cursor is None or not reader.knows(cursor):
            if reader is not None:
                reader.stop()
            if cursor is None:
                batch = self._call("events", cursor=None)
                cursor = batch.cursor
            self._events = reader = EventReader(self, cursor)
            reader.start()
            return EventBatch(events=[], cursor=cursor)
        return reader.take(cursor)

    def deliver_outbox(self) -> None:
        """Nothing here: the server delivers the outbox and the reminders."""

    def sign_out(self) -> None:
        """End the session on the server (logout). A session already ended is no error."""
        try:
            self._client.request("DELETE", table.SESSION_PATH,
                                 headers=self._headers(self._token))
        except httpx.HTTPError as exc:
            raise _unavailable(self.server, transport_reason(exc)) from None

    def close(self) -> None:
        if self._events is not None:
            self._events.stop()
            self._events = None
        self._client.close()


def _is_api_error(got: httpx.Response) -> bool:
    """A 5xx that is the API's own answer (a JSON error body) rather than a proxy's page."""
    try:
        data = got.json()
    except (ValueError, UnicodeDecodeError):
        return False
    return isinstance(data, dict) and isinstance(data.get("message"), str)


def sign_in(server: str, user: str, password: str, *, new_password: str | None = None,
            timeout: float = DEFAULT_TIMEOUT, transport: httpx.BaseTransport | None = None
            ) -> tuple[str, str, Identity]:
    """(token, expires_at, identity) for these credentials. Raises the server's refusal
    (SignInRefused, PasswordChangeRequired, TooManyAttempts, InvalidRequest) or
    BackendUnavailable. The password goes in the body of one POST, never in a URL."""
    body: dict[str, str] = {"user": user, "password": password}
    if new_password is not None:
        body["new_password"] = new_password
    try:
        with httpx.Client(base_url=server, timeout=timeout, transport=transport,
                          follow_redirects=False) as client:
            got = client.post(table.SESSION_PATH, content=json.dumps(body).encode("utf-8"),
                              headers={"Content-Type": "application/json"})
    except httpx.HTTPError as exc:
        raise _unavailable(server, transport_reason(exc)) from None
    try:
        data = got.json()
    except (ValueError, UnicodeDecodeError):
        data = None
    if got.status_code != 200:
        if isinstance(data, dict) and isinstance(data.get("message"), str):
            raise error_from_json(data)
        raise _unavailable(server, f"respondió algo que no se pudo leer (HTTP "
                                   f"{got.status_code})")
    try:
        token = data["token"]
        expires = data.get("expires_at")
        identity = from_json(Identity, data["identity"])
        if not isinstance(token, str) or not token:
            raise ValueError
    except (KeyError, TypeError, ValueError, CodecError):
        raise _unavailable(server, "respondió algo que no se pudo leer") from None
    return token, expires if isinstance(expires, str) else "", identity


__all__ = ["RemoteBackend", "sign_in", "to_json"]
