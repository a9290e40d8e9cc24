"""Where paylink-tui keeps its files, by platform (platformdirs): the settings file and the
default SQLite database. Kept apart from config.py so that the first frame of the TUI can
find the database without loading pydantic-settings.

What it writes holds clients' names, addresses and payments: on POSIX its folders are made
0700 and its files 0600 (`private_dir`, `private_file`), whatever the umask."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "paylink-tui"
DEFAULT_TIMEZONE = "America/Mexico_City"  # the insurer's calendar (settings: timezone)


PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600
_POSIX = os.name == "posix"


def _ours(path: Path) -> bool:
    try:
        return path.stat().st_uid == os.getuid()  # type: ignore[attr-defined,unused-ignore]
    except (OSError, AttributeError):
        return False


def private_dir(path: Path, *, tighten: bool = False) -> Path:
    """`mkdir -p path`, every folder it creates 0700 on POSIX. `tighten`: the folder is the
    app's own, so one left 0755 by an older version is made 0700 too."""
    path = Path(path)
    missing = []
    for folder in (path, *path.parents):
        if folder.exists():
            break
        missing.append(folder)
    for folder in reversed(missing):
        folder.mkdir(mode=PRIVATE_DIR_MODE, exist_ok=True)
        if _POSIX:
            os.chmod(folder, PRIVATE_DIR_MODE)
    if tighten and _POSIX and not missing and _ours(path):
        os.chmod(path, PRIVATE_DIR_MODE)
    return path


def private_file(path: Path) -> None:
    """Create `path` empty with mode 0600 if it is missing; make it 0600 if it is ours."""
    path = Path(path)
    if not _POSIX:
        path.touch(exist_ok=True)
        return
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
    except FileExistsError:
        if _ours(path):
            os.chmod(path, PRIVATE_FILE_MODE)
    else:
        os.close(fd)


def write_private(path: Path, data: bytes) -> None:
    """Write a new file whose mode is 0600 from its first byte."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_BINARY", 0)
    fd = os.open(path, flags, PRIVATE_FILE_MODE)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def config_path() -> Path:
    env = os.environ.get("PAYLINK_CONFIG")
    if env:
        return Path(env)
    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)) / "config.toml"


def data_dir() -> Path:
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def default_database_url() -> str:
    return f"sqlite:///{(data_dir() / 'paylink.db').as_posix()}"
