"""Settings: environment over TOML, one Spanish line per problem, no secrets shown."""

import pytest

from paylink_tui.config import ConfigError, load_settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    import os

    for name in list(os.environ):
        if name.startswith("PAYLINK_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("PAYLINK_CONFIG", str(tmp_path / "none.toml"))


def test_defaults_are_the_documented_ones():
    s = load_settings()
    assert s.timezone == "America/Mexico_City"
    assert s.link_sender == "pagopoliza@mitec.com.mx"
    assert s.notice_sender == "notificaciones@mitec.com.mx"
    assert s.gateway is None and s.mit_notify_payer == 0 and s.mit_extra_data_in == "url"
    assert s.database_url.startswith("sqlite:///") and s.database_url.endswith("paylink.db")


@pytest.mark.parametrize("value", ["0", "1"])
def test_notify_payer_is_read_from_the_environment(monkeypatch, value):
    monkeypatch.setenv("PAYLINK_MIT_NOTIFY_PAYER", value)
    assert load_settings().mit_notify_payer == int(value)


def test_environment_wins_over_the_toml_file(monkeypatch, tmp_path):
    path = tmp_path / "config.toml"
    path.write_text('company = "GNP"\nagent = "Ana"\nsmtp_port = 587\n', encoding="utf-8")
    monkeypatch.setenv("PAYLINK_CONFIG", str(path))
    monkeypatch.setenv("PAYLINK_AGENT", "Beto")
    s = load_settings()
    assert (s.company, s.agent, s.smtp_port) == ("GNP", "Beto", 587)


@pytest.mark.parametrize(("name", "value", "expected"), [
    ("PAYLINK_MIT_TIMEOUT", "nan", "PAYLINK_MIT_TIMEOUT: debe ser un número finito"),
    ("PAYLINK_MIT_TIMEOUT", "-3", "PAYLINK_MIT_TIMEOUT: debe ser mayor que 0"),
    ("PAYLINK_SMTP_PORT", "0", "PAYLINK_SMTP_PORT: debe ser 1 o más"),
    ("PAYLINK_SMTP_TLS", "tls", "PAYLINK_SMTP_TLS: valor no permitido"),
    ("PAYLINK_TIMEZONE", "Mars/Olympus", "PAYLINK_TIMEZONE: zona horaria desconocida"),
    ("PAYLINK_DATABASE_URL", "mysql://x", "PAYLINK_DATABASE_URL: use sqlite:///RUTA"),
])
def test_invalid_settings_are_named_in_spanish(monkeypatch, name, value, expected):
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as exc:
        load_settings()
    assert expected in str(exc.value)
    assert "\n" not in str(exc.value)


def test_a_broken_toml_file_is_reported_without_english(monkeypatch, tmp_path):
    path = tmp_path / "config.toml"
    path.write_text('gateway = mit\nmit_password = "s3cr3t"\n', encoding="utf-8")
    monkeypatch.setenv("PAYLINK_CONFIG", str(path))
    with pytest.raises(ConfigError) as exc:
        load_settings()
    assert "TOML" in str(exc.value) and "s3cr3t" not in str(exc.value)


def test_secrets_do_not_show_in_the_settings_repr(monkeypatch):
    monkeypatch.setenv("PAYLINK_MIT_KEY", "5DCC67393750523CD165F17E1EFADD21")
    monkeypatch.setenv("PAYLINK_SMTP_PASSWORD", "s3cr3t")
    text = repr(load_settings())
    assert "5DCC6739" not in text and "s3cr3t" not in text


@pytest.mark.parametrize("value", ["-1", "treinta", "5000"])
def test_a_bad_reconcile_interval_is_one_spanish_line_naming_it(monkeypatch, value):
    monkeypatch.setenv("PAYLINK_RECONCILE_MINUTES", value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert "PAYLINK_RECONCILE_MINUTES" in str(caught.value)


def test_the_query_settings_default_to_none_and_thirty_minutes():
    s = load_settings()
    assert (s.mit_query_url, s.mit_query_key, s.reconcile_minutes) == (None, None, 30)
