"""`serve` in team mode refuses to listen beyond this machine without TLS, unless told a TLS
proxy is in front (team-mode.md); the one-agent mode's receiver is not affected. Team mode:
`--equipo`, or a database that has users. With a certificate it serves HTTPS."""

from __future__ import annotations

import ssl
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from paylink_tui.services import users
from paylink_tui.services.context import AppContext
from paylink_tui.store.db import make_engine
from paylink_tui.web.api.transport import TLS_REQUIRED, transport_refusal
from tests.helpers import closed_port, command_env

ROOT = Path(__file__).resolve().parents[2]


def test_the_rule() -> None:
    public = {"host": "0.0.0.0", "certfile": None, "keyfile": None, "proxy_headers": False}
    assert transport_refusal(team=True, **public) == TLS_REQUIRED.format(host="0.0.0.0")
    assert transport_refusal(team=False, **public) is None  # the receiver alone, as before
    assert transport_refusal(team=True, **{**public, "proxy_headers": True}) is None
    assert transport_refusal(team=True, **{**public, "certfile": "c.pem",
                                           "keyfile": "k.pem"}) is None
    assert "juntos" in transport_refusal(team=True, **{**public, "certfile": "c.pem"})
    for host in ("127.0.0.1", "localhost", "::1"):
        assert transport_refusal(team=True, **{**public, "host": host}) is None
    assert transport_refusal(team=True, **{**public, "host": "192.168.1.20"})


def _serve(env: dict[str, str], *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "paylink_tui", "serve", *args], cwd=ROOT,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            encoding="utf-8")


@pytest.fixture
def env(sqlite_url: str, tmp_path: Path) -> dict[str, str]:
    return command_env(sqlite_url, tmp_path, PAYLINK_GATEWAY="sandbox")


def test_team_mode_on_a_public_address_without_tls_is_refused_in_spanish(env, sqlite_url):
    proc = _serve(env, "--host", "0.0.0.0", "--port", str(closed_port()), "--equipo")
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert "sin cifrado" in err and "--ssl-certfile" in err and "--proxy-headers" in err
    # users in the database make it team mode without the flag
    ctx = AppContext(settings=None, engine=make_engine(sqlite_url))  # type: ignore[arg-type]
    from paylink_tui.config import Settings

    ctx.settings = Settings(database_url=sqlite_url)
    users.add_user(ctx, "ana", role="agente", codes="A001", password="una-contraseña-1")
    ctx.engine.dispose()
    proc = _serve(env, "--host", "0.0.0.0", "--port", str(closed_port()))
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2 and "sin cifrado" in err


def _wait(url: str, proc: subprocess.Popen, **kwargs) -> httpx.Response:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            return httpx.get(url, timeout=2, **kwargs)
        except httpx.HTTPError:
            if proc.poll() is not None:
                raise AssertionError(proc.stderr.read() if proc.stderr else "exited") from None
            time.sleep(0.2)
    raise AssertionError("serve did not start")


def _self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 signed by itself (cryptography, a dependency already)."""
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    certfile, keyfile = folder / "cert.pem", folder / "key.pem"
    certfile.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    keyfile.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                          serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    return certfile, keyfile


def test_with_a_certificate_it_serves_the_api_over_https(env, tmp_path: Path) -> None:
    certfile, keyfile = _self_signed(tmp_path)
    port = closed_port()
    proc = _serve(env, "--host", "127.0.0.1", "--port", str(port), "--equipo",
                  "--ssl-certfile", str(certfile), "--ssl-keyfile", str(keyfile))
    try:
        got = _wait(f"https://127.0.0.1:{port}/api/v1/identidad", proc,
                    verify=ssl.create_default_context(cafile=str(certfile)))
        assert got.status_code == 401 and got.json()["error"] == "NotSignedIn"
    finally:
        proc.terminate()
        proc.communicate(timeout=15)


def test_without_team_mode_the_api_is_not_there(env) -> None:
    port = closed_port()
    proc = _serve(env, "--host", "127.0.0.1", "--port", str(port))
    try:
        got = _wait(f"http://127.0.0.1:{port}/api/v1/identidad", proc)
        assert got.status_code == 404  # the sandbox's own answer: no API here
    finally:
        proc.terminate()
        proc.communicate(timeout=15)
