"""Everything `paylink-tui demo` needs, on loopback, in this process, with no configuration:

- a demo SQLite database in the user data dir's `demo/` folder, seeded on first run (and
  again whenever it has no receipts) — or the database given as `database_url`, seeded
  the same way (the end-to-end tests' agency server on PostgreSQL);
- a MailDrop SMTP server on a free port that stores every message as a .eml file in
  `demo/correos/`;
- ONE uvicorn server (a background thread) serving the notification receiver and the MIT
  sandbox, which notifies that same receiver; on the port of the last run when it is free
  (kept in `demo/pasarela.json`), and given back the links of earlier runs from the demo
  database, so that links sent before a restart still open and pay;
- an AppContext whose gateway is MitGateway pointed at that sandbox's /gen with MIT's public
  sandbox credentials, and whose mail goes to the MailDrop;
- approvals confirmed with the sandbox's transaction query before they count, as they must
  be with the real MIT (PAYLINK_MIT_QUERY_URL).

The TUI owns the main thread; everything else runs in background threads.
"""

from __future__ import annotations

import logging
from pathlib import Path

from paylink_tui.config import Settings, data_dir
from paylink_tui.services.context import AppContext

log = logging.getLogger(__name__)

DEMO_RECEIPTS = 300
DEMO_SEED = 7
# Meses sin intereses of the demo's "contract", unless PAYLINK_MIT_PROMOTIONS says otherwise:
# our links and the sandbox (playing MIT) use the same table, as an agency configures it.
DEMO_PROMOTIONS = "3:300,6:600,9:900,12:1200"


def default_folder() -> Path:
    return data_dir() / "demo"


class DemoRuntime:
    def __init__(self, folder: Path | None = None, *, receipts: int = DEMO_RECEIPTS,
                 deliver_interval: float = 2.0, confirm_interval: float = 2.0,
                 team: bool = False, agent_codes: tuple[str, ...] = (),
                 database_url: str | None = None) -> None:
        # `team`: the agents' API under /api/v1/ too (demo --equipo, demo/team.py);
        # `agent_codes`: the demo portfolio dealt out among these agent codes;
        # `database_url`: another database than `folder`'s demo.db (PostgreSQL, say: the
        # end-to-end tests run the agency server on it); seeded the same way when empty.
        self.team = team
        self.agent_codes = agent_codes
        self.api_state = None
        self.folder = Path(folder) if folder is not None else default_folder()
        self.mail_folder = self.folder / "correos"
        self.database_path = self.folder / "demo.db"
        self._database_url = database_url
        self.receipts = receipts
        self.deliver_interval = deliver_interval
        self.confirm_interval = confirm_interval
        self.ctx: AppContext | None = None
        self.base_url = ""
        self.smtp_port = 0
        self.seeded = 0
        self._maildrop = None
        self._server = None

    # -- addresses ------------------------------------------------------------------------

    @property
    def database_url(self) -> str:
        """The database given, else the demo's SQLite file in its folder."""
        return self._database_url or f"sqlite:///{self.database_path.as_posix()}"

    @property
    def gen_url(self) -> str:
        return f"{self.base_url}/gen"

    @property
    def notify_url(self) -> str:
        return f"{self.base_url}/mit/notificacion"

    @property
    def query_url(self) -> str:
        from paylink_tui.gateway.mit_query import QUERY_PATH

        return f"{self.base_url}{QUERY_PATH}"

    @property
    def backend(self):  # type: ignore[no-untyped-def]
        """The local backend on the demo's context (what the TUI is given)."""
        from paylink_tui.backend.local import LocalBackend

        assert self.ctx is not None  # noqa: S101 - started
        return LocalBackend(self.ctx)

    @property
    def sandbox(self):  # type: ignore[no-untyped-def]
        """The running `Sandbox` (links, deliveries, wait_idle_sync)."""
        return self._server.app.state.sandbox if self._server else None

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> DemoRuntime:
        from paylink_tui.gateway import sandbox_defaults as sd
        from paylink_tui.gateway.mit import MitGateway
        from paylink_tui.mail.server import MailDrop
        from paylink_tui.paths import private_dir
        from paylink_tui.store.db import open_database
        from paylink_tui.web.app import create_app

        private_dir(self.folder, tighten=True)
        private_dir(self.mail_folder, tighten=True)
        try:
            self._maildrop = MailDrop(self.mail_folder).start()
            self.smtp_port = self._maildrop.port
            engine = open_database(self.database_url)
            # The HTTP server's port is known once its socket is bound, before it serves:
            # the sandbox must know where to notify, and the context where /gen is.
            settings_base = dict(
                database_url=self.database_url, gateway="sandbox",
                smtp_host="127.0.0.1", smtp_port=self.smtp_port, smtp_tls="none",
            )
            configured = Settings(**settings_base)
            if configured.mit_promotions is None:
                settings_base["mit_promotions"] = DEMO_PROMOTIONS
            ctx = AppContext(settings=Settings(**settings_base), engine=engine)
            server = self._bind()  # the port is bound now; the app comes below
            self.base_url = server.url
            settings = Settings(
                **settings_base, mit_gen_url=self.gen_url, sandbox_notify_url=self.notify_url,
                mit_query_url=self.query_url,
            )
            ctx.settings = settings
            ctx.gateway = MitGateway(
                self.gen_url, sd.SANDBOX_DATA0, sd.SANDBOX_KEY, sd.SANDBOX_ID_COMPANY,
                sd.SANDBOX_ID_BRANCH, sd.SANDBOX_USER, sd.SANDBOX_PASSWORD,
                timeout=10.0, query_url=self.query_url,
            )
            if self.team:
                from paylink_tui.web.api import api_state

                self.api_state = api_state(ctx)
            server.app = create_app(
                ctx, serve_sandbox=True, deliver_interval=self.deliver_interval,
                team=self.team, api_state=self.api_state,
                confirm_interval=self.confirm_interval,
                # The demo's sandbox lists its links at / (on loopback only: it checks Host).
                sandbox_kwargs={"company": settings.company, "timezone": settings.timezone,
                                "notify_url": self.notify_url, "list_links": True,
                                "promotions": settings.promotion_plans},
            )
            self._server = server
            self.ctx = ctx
            self._seed_if_empty()
            self._restore_sandbox()
            server.start()
        except BaseException:
            self.stop()
            raise
        log.info("demo: sandbox and receiver on %s, SMTP on %d", self.base_url, self.smtp_port)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None
        if self.ctx is not None:
            if self.ctx.gateway is not None:
                self.ctx.gateway.close()
            self.ctx.engine.dispose()
        if self._maildrop is not None:
            try:
                self._maildrop.stop()
            except Exception:  # never started (port taken...)
                log.debug("maildrop stop failed", exc_info=True)
            self._maildrop = None

    def __enter__(self) -> DemoRuntime:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- the sandbox across runs -------------------------------------------------------------

    @property
    def address_file(self) -> Path:
        return self.folder / "pasarela.json"

    def _bind(self):  # type: ignore[no-untyped-def]
        """The server on the last run's port when it is free (links carry the address),
        else on a free one; the port is remembered for the next run."""
        import json

        from paylink_tui.web.server import BackgroundServer

        port = 0
        try:
            port = int(json.loads(self.address_file.read_text(encoding="utf-8"))["port"])
        except (OSError, ValueError, KeyError, TypeError):
            pass
        try:
            server = BackgroundServer(port=port)
        except OSError:
            log.warning("demo: port %s is taken; links of earlier runs will not open", port)
            server = BackgroundServer()
        self.address_file.write_text(json.dumps({"port": server.port}), encoding="utf-8")
        return server

    def _restore_sandbox(self) -> None:
        """Hand the new sandbox the links that earlier runs made. A link made when the
        sandbox had another port (it was taken, or an older version chose a new one each
        run) gets this run's address, so that it opens again."""
        import re

        from sqlalchemy import select

        from paylink_tui.domain.dates import to_local
        from paylink_tui.gateway.sandbox.restore import KnownLink, restore
        from paylink_tui.store.db import write_session
        from paylink_tui.store.models import PaymentLink, Policy

        assert self.ctx is not None and self._server is not None  # noqa: S101
        ours = re.compile(r"^http://127\.0\.0\.1:\d+/i/([A-Za-z0-9]+)$")
        tz = self.ctx.settings.timezone
        known = []
        with write_session(self.ctx.engine) as s:
            for link, policy in s.execute(
                select(PaymentLink, Policy.number).join(Policy, Policy.id == PaymentLink.policy_id)
                .where(PaymentLink.url.is_not(None))  # type: ignore[union-attr]
            ):
                found = ours.match(link.url or "")
                if found is None:
                    continue
                if not link.url.startswith(f"{self.base_url}/"):
                    link.url = f"{self.base_url}/i/{found.group(1)}"
                paid = None
                if link.paid_at is not None:
                    when = to_local(link.paid_at, tz)
                    paid = (link.folio or "", link.authorization or "", when.strftime("%d/%m/%y"),
                            when.strftime("%H:%M:%S"), link.card_mask or "")
                known.append(KnownLink(
                    link_id=found.group(1), reference=link.reference, amount=link.amount,
                    currency=link.currency, valid_through=link.last_valid_day, email=link.email,
                    created_at=link.created_at, extra=(("Póliza", policy),), paid=paid))
        restored = restore(self._server.app.state.sandbox.state, known)
        if restored:
            log.info("demo: %d links of earlier runs given back to the sandbox", restored)

    # -- data -------------------------------------------------------------------------------

    def _seed_if_empty(self) -> None:
        from sqlalchemy import func, select

        from paylink_tui.demo.data import generate_rows
        from paylink_tui.services.importing import import_rows
        from paylink_tui.store.db import read_session
        from paylink_tui.store.models import Receipt

        assert self.ctx is not None  # noqa: S101
        with read_session(self.ctx.engine) as s:
            existing = s.execute(select(func.count()).select_from(Receipt)).scalar_one()
        if existing:
            return
        rows = generate_rows(self.receipts, seed=DEMO_SEED, agent_codes=self.agent_codes)
        report = import_rows(self.ctx.engine, rows,
                             agent=self.ctx.agent, now=self.ctx.now(), filename="demo")
        self.seeded = self.receipts
        log.info("demo: seeded %s receipts", getattr(report, "added", self.receipts))

    def mail_files(self) -> list[Path]:
        return sorted(self.mail_folder.glob("*.eml"))
