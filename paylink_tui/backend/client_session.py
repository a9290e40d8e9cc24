"""The agent's session with the agency server, kept on the agent's machine (team mode).

`paylink-tui login` writes one small JSON file, `sesion.json`, beside the settings file in
the user config dir (`%LOCALAPPDATA%` on Windows): the server's URL (what later commands use
as PAYLINK_SERVER when no setting names one), the user name and the bearer token. The file
is created 0600 from its first byte (paths.write_private) and replaced atomically; the token
is never printed, logged or put in an error message. No password is ever stored.

The operating system's credential store (keyring) would be nicer on Windows and macOS; it is
not a dependency, so the 0600 file is the one store (team-mode.md allows it).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from paylink_tui.paths import config_path, private_dir, write_private

SESSION_FILE = "sesion.json"


@dataclass(frozen=True)
class StoredSession:
    server: str
    user: str
    token: str = ""
    expires_at: str | None = None

    def __repr__(self) -> str:  # never the token, even in a traceback's locals
        return f"StoredSession(server={self.server!r}, user={self.user!r}, token=<oculto>)"


def session_path() -> Path:
    return config_path().parent / SESSION_FILE


def load_session(path: Path | None = None) -> StoredSession | None:
    """The stored session, or None when there is none (or the file is not ours to read)."""
    path = path or session_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    server, user, token = data.get("server"), data.get("user"), data.get("token", "")
    if not isinstance(server, str) or not isinstance(user, str) or not isinstance(token, str):
        return None
    expires = data.get("expires_at")
    return StoredSession(server=server, user=user, token=token,
                         expires_at=expires if isinstance(expires, str) else None)


def save_session(session: StoredSession, path: Path | None = None) -> Path:
    """Write the session file, 0600 (a temporary file renamed over the old one)."""
    path = path or session_path()
    private_dir(path.parent)
    data = json.dumps({"server": session.server, "user": session.user,
                       "token": session.token, "expires_at": session.expires_at},
                      ensure_ascii=False).encode("utf-8")
    temporary = path.with_name(path.name + ".tmp")
    try:
        temporary.unlink()
    except FileNotFoundError:
        pass
    write_private(temporary, data)
    os.replace(temporary, path)
    return path


def forget_session(path: Path | None = None) -> None:
    """`logout`: the file goes (server, user and token). Without PAYLINK_SERVER this machine is
    back in the one-agent mode; with it, the next command asks to `login` again."""
    path = path or session_path()
    try:
        path.unlink()
    except FileNotFoundError:
        pass
