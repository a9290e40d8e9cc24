"""`paylink-tui demo --equipo`: the demo in team mode, on loopback (team-mode.md, "Commands").

The demo's runtime (sandbox MIT gateway, MailDrop, the notification receiver) with the
agents' API mounted as well, on its own demo database (`demo-equipo/`, so the one-agent
demo's data is left alone) whose 300 receipts are dealt out between two agent codes; three
users: two agents and a supervisor. Each run gives them new one-time passwords (printed);
the TUI then signs in over HTTP as the first agent — through the same sign-in a `login`
makes, changing its one-time password for a new one that is printed too — and runs on the
remote backend: what the agent sees comes from the server, as on an agency's laptop.
The session lives in this process only: the agent's own `login` is never touched.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path

from paylink_tui.config import data_dir
from paylink_tui.demo.runtime import DemoRuntime

AGENT_CODES = ("A001", "A002")
# name -> (role, codes)
TEAM_USERS: dict[str, tuple[str, str]] = {
    "agente1": ("agente", "A001"),
    "agente2": ("agente", "A002"),
    "supervisora": ("supervisor", "*"),
}
FIRST_AGENT = "agente1"


def team_folder() -> Path:
    return data_dir() / "demo-equipo"


@dataclass
class TeamDemo:
    runtime: DemoRuntime
    passwords: dict[str, str]  # user -> the one-time password of this run
    first_password: str  # the first agent's new password (its one-time one was used)
    backend: object = None  # RemoteBackend signed in as the first agent

    @property
    def api_url(self) -> str:
        return self.runtime.base_url


def start_team_demo(folder: Path | None = None, *, receipts: int | None = None) -> TeamDemo:
    """Start the server with the demo data and the users; sign the first agent in."""
    from paylink_tui.backend.remote import RemoteBackend, sign_in
    from paylink_tui.domain.errors import PasswordChangeRequired
    from paylink_tui.services import users

    kwargs = {} if receipts is None else {"receipts": receipts}
    runtime = DemoRuntime(folder or team_folder(), team=True, agent_codes=AGENT_CODES,
                          **kwargs).start()
    try:
        ctx = runtime.ctx
        assert ctx is not None  # noqa: S101 - started
        known = {row.name for row in users.list_users(ctx)}
        passwords: dict[str, str] = {}
        for name, (role, codes) in TEAM_USERS.items():
            if name in known:
                passwords[name] = users.reset_password(ctx, name)
            else:
                passwords[name] = users.add_user(ctx, name, role=role, codes=codes)
        new_password = secrets.token_urlsafe(12)
        server = runtime.base_url
        try:
            token, _, _ = sign_in(server, FIRST_AGENT, passwords[FIRST_AGENT])
        except PasswordChangeRequired:
            token, _, _ = sign_in(server, FIRST_AGENT, passwords[FIRST_AGENT],
                                  new_password=new_password)
        backend = RemoteBackend(server, token, user=FIRST_AGENT)
    except BaseException:
        runtime.stop()
        raise
    return TeamDemo(runtime=runtime, passwords=passwords, first_password=new_password,
                    backend=backend)


def describe_team(demo: TeamDemo) -> str:
    lines = [
        "Demostración en modo equipo (todo en esta máquina):",
        f"  Servidor de la agencia:          {demo.api_url}/api/v1/",
        f"  Sandbox de MIT (ligas y pagos):  {demo.runtime.base_url}/",
        f"  Correos recibidos (.eml):        {demo.runtime.mail_folder}",
        "  Usuarios (contraseña de un solo uso: se cambia al entrar con «paylink-tui login»):",
    ]
    for name, (role, codes) in TEAM_USERS.items():
        cartera = "todas las claves" if codes == "*" else f"clave {codes}"
        if name == FIRST_AGENT:
            lines.append(f"    {name:<12} {role:<11} {cartera:<17} la aplicación entró como "
                         f"{name}; su contraseña nueva: {demo.first_password}")
        else:
            lines.append(f"    {name:<12} {role:<11} {cartera:<17} {demo.passwords[name]}")
    lines.append(f"  Otro agente, en otra terminal:   paylink-tui login {demo.api_url} "
                 "--usuario agente2")
    return "\n".join(lines)
