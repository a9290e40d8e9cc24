"""Settings: PAYLINK_* environment variables over an optional TOML file.

The TOML file is `PAYLINK_CONFIG` or `config.toml` in the user config dir; its keys are the
setting names in lower case without the prefix. The environment wins.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from paylink_tui.paths import (
    APP_NAME,
    DEFAULT_TIMEZONE,
    config_path,
    data_dir,
    default_database_url,
)

if TYPE_CHECKING:
    from paylink_tui.domain.promotions import InstallmentPlan

__all__ = ["APP_NAME", "ConfigError", "Settings", "config_path", "data_dir",
           "default_database_url", "get_settings", "load_settings"]


class ConfigError(Exception):
    """A setting is missing or invalid; the message is one Spanish line for the agent."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PAYLINK_", extra="ignore", frozen=True)

    # Team mode: the agency server's URL (https://…; http:// only to this machine). Set, every
    # command and the TUI work over it, and the database, MIT and SMTP settings are ignored.
    server: str | None = None
    database_url: str = Field(default_factory=default_database_url)
    timezone: str = DEFAULT_TIMEZONE
    agent: str = Field(default_factory=lambda: os.environ.get("USER") or os.environ.get("USERNAME")
                       or "agente")
    company: str = "AXA"
    gateway: Literal["mit", "sandbox"] | None = None

    mit_gen_url: str | None = None
    mit_data0: str | None = None
    mit_key: SecretStr | None = None
    mit_id_company: str | None = None
    mit_id_branch: str | None = None
    mit_user: str | None = None
    mit_password: SecretStr | None = None
    mit_extra_data_in: Literal["url", "root"] = "url"
    mit_notify_payer: Literal[0, 1] = 0
    mit_timeout: float = Field(default=30.0, gt=0, le=600, allow_inf_nan=False)
    # MIT's transaction query (xmltransacciones): with it, an approval counts only once MIT
    # lists it; its key defaults to mit_key.
    mit_query_url: str | None = None
    mit_query_key: SecretStr | None = None
    # Minutes between serve's own reconciliations with MIT (0: none).
    reconcile_minutes: int = Field(default=30, ge=0, le=1440)
    # Meses sin intereses the MIT contract enables, months:minimum MXN (domain/promotions.py).
    mit_promotions: str | None = None

    smtp_host: str = "localhost"
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_tls: Literal["none", "starttls", "ssl"] = "none"
    smtp_timeout: float = Field(default=20.0, gt=0, le=600, allow_inf_nan=False)
    # A login over an unencrypted connection to another machine sends the password in clear:
    # refused unless the operator says so here (mail/transport.py).
    smtp_allow_plain_login: bool = False

    # `serve`, the notification receiver (web/guard.py, web/server.py).
    proxy_headers: bool = False  # take the client's address from X-Forwarded-For
    forwarded_allow_ips: str = "127.0.0.1"  # the proxies whose X-Forwarded-For is believed
    mit_allowed_ips: str | None = None  # addresses or networks MIT posts from; empty: any
    notify_max_failures: int = Field(default=10, ge=1, le=100_000)
    notify_failure_window: float = Field(default=600.0, gt=0, le=86_400, allow_inf_nan=False)
    serve_max_connections: int = Field(default=256, ge=1, le=100_000)
    serve_read_timeout: float = Field(default=10.0, gt=0, le=600, allow_inf_nan=False)

    link_sender: str = "pagopoliza@mitec.com.mx"
    notice_sender: str = "notificaciones@mitec.com.mx"
    agent_email: str | None = None
    templates_dir: Path | None = None
    sandbox_notify_url: str | None = None
    sandbox_hosts: str | None = None  # Host names the sandbox answers besides this machine's

    # Collecting more (domain.md "Collecting more"): the lapse clock and the reminders.
    grace_days: int = Field(default=30, ge=3, le=30)  # art. 40 LCS: lapse at 12:00 of V+G
    # The days after the link's day D when an unpaid link gets a reminder ("1,3"; "": none).
    reminder_days: str = "3"
    # The local hour from which the day's reminders go out; never outside 07:00-22:00.
    reminder_hour: int = Field(default=9, ge=7, le=21)

    @field_validator("mit_notify_payer", mode="before")
    @classmethod
    def _zero_or_one(cls, value: object) -> object:
        # The environment gives strings: "0" and "1" are what the operator writes.
        if isinstance(value, str) and value.strip() in ("0", "1"):
            return int(value.strip())
        return value

    @field_validator("mit_promotions")
    @classmethod
    def _promotions(cls, value: str | None) -> str | None:
        from paylink_tui.domain.promotions import parse_promotions

        parse_promotions(value)  # ValueError: the Spanish reason, quoting the bad item
        return value

    @property
    def promotion_plans(self) -> tuple[InstallmentPlan, ...]:
        """The meses-sin-intereses plans enabled (none without the setting)."""
        from paylink_tui.domain.promotions import parse_promotions

        return parse_promotions(self.mit_promotions)

    @field_validator("reminder_days", mode="before")
    @classmethod
    def _reminder_days(cls, value: object) -> object:
        from paylink_tui.domain.reminders import parse_reminder_days

        if isinstance(value, (list, tuple)):  # TOML: reminder_days = [1, 3]
            value = ",".join(str(v) for v in value)
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str):
            raise ValueError("use días separados por comas, p. ej. 1,3")
        parse_reminder_days(value)  # ValueError with the Spanish reason
        return value.strip()

    @property
    def reminder_offsets(self) -> tuple[int, ...]:
        """The days after D that get a reminder, ascending (empty: no reminders)."""
        from paylink_tui.domain.reminders import parse_reminder_days

        return parse_reminder_days(self.reminder_days)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        import pendulum

        try:
            pendulum.timezone(value)
        except Exception as exc:
            raise ValueError(f"zona horaria desconocida: {value}") from exc
        return value

    @field_validator("mit_allowed_ips", "forwarded_allow_ips")
    @classmethod
    def _address_list(cls, value: str | None) -> str | None:
        from ipaddress import ip_network

        for item in (value or "").split(","):
            item = item.strip()
            if not item or item == "*":
                continue
            try:
                ip_network(item, strict=False)
            except ValueError:
                raise ValueError(f"«{item}» no es una dirección IP ni una red (p. ej. "
                                 "200.57.0.0/16), separadas por comas") from None
        return value

    @field_validator("server")
    @classmethod
    def _server_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        from paylink_tui.domain.hosts import check_server_url

        return check_server_url(value)  # ValueError with the Spanish reason

    @field_validator("database_url")
    @classmethod
    def _db_url(cls, value: str) -> str:
        if not (value.startswith("sqlite:///") or value.startswith("postgresql")):
            raise ValueError("use sqlite:///RUTA o postgresql://usuario@host/base")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        path = config_path()
        if path.is_file():
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)

    def missing_gateway_settings(self) -> list[str]:
        """Names of the settings a real MIT gateway still needs."""
        if self.gateway is None:
            return ["PAYLINK_GATEWAY"]
        if self.gateway == "sandbox":
            return []
        needed = {
            "PAYLINK_MIT_GEN_URL": self.mit_gen_url,
            "PAYLINK_MIT_DATA0": self.mit_data0,
            "PAYLINK_MIT_KEY": self.mit_key,
            "PAYLINK_MIT_ID_COMPANY": self.mit_id_company,
            "PAYLINK_MIT_ID_BRANCH": self.mit_id_branch,
            "PAYLINK_MIT_USER": self.mit_user,
            "PAYLINK_MIT_PASSWORD": self.mit_password,
        }
        return [name for name, value in needed.items() if not value]


_MESSAGES = {
    "greater_than": "debe ser mayor que {gt}",
    "greater_than_equal": "debe ser {ge} o más",
    "less_than_equal": "debe ser {le} o menos",
    "finite_number": "debe ser un número finito",
    "missing": "falta el valor",
    "int_parsing": "debe ser un número entero",
}


def _explain(exc: ValidationError) -> str:
    err = exc.errors()[0]
    name = "PAYLINK_" + "_".join(str(p) for p in err["loc"]).upper()
    kind = err.get("type", "")
    msg = err.get("msg", "")
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    elif kind == "literal_error":
        msg = "valor no permitido (" + msg.split("Input should be ")[-1].replace(" or ", " o ") + ")"
    elif kind in _MESSAGES:
        msg = _MESSAGES[kind].format(**(err.get("ctx") or {}))
    else:
        # Any other pydantic message is English: say it in Spanish, generically.
        msg = "valor con formato inválido"
    return f"Configuración inválida: {name}: {msg}."


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment and the TOML file; ConfigError with one Spanish line."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise ConfigError(_explain(exc)) from None
    except Exception as exc:  # a TOML file that does not parse
        where = ""
        lineno = getattr(exc, "lineno", None)
        if lineno:
            where = f" (línea {lineno})"
        raise ConfigError(
            f"No se pudo leer el archivo de configuración {config_path()}{where}: "
            "revise que sea TOML válido (clave = \"valor\")."
        ) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
