"""Where paylink-tui keeps its files, by platform (platformdirs): the settings file and the
default SQLite database. Kept apart from config.py so that the first frame of the TUI can
find the database without loading pydantic-settings."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "paylink-tui"
DEFAULT_TIMEZONE = "America/Mexico_City"  # the insurer's calendar (settings: timezone)


def config_path() -> Path:
    env = os.environ.get("PAYLINK_CONFIG")
    if env:
        return Path(env)
    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)) / "config.toml"


def data_dir() -> Path:
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def default_database_url() -> str:
    return f"sqlite:///{(data_dir() / 'paylink.db').as_posix()}"
