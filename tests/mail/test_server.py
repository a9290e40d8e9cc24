"""MailDrop, the demo's SMTP server: one .eml file per message, safe names, clean stop."""

from __future__ import annotations

import re
import smtplib
import socket
from pathlib import Path

import pytest

from paylink_tui.mail.server import MailDrop

from .conftest import parse_eml


def send(port: int, to: str, subject: str) -> None:
    raw = f"From: a@example.mx\r\nTo: {to}\r\nSubject: {subject}\r\n\r\nhola\r\n".encode()
    with smtplib.SMTP("127.0.0.1", port, timeout=5) as smtp:
        smtp.sendmail("a@example.mx", [to], raw)


def test_each_message_is_one_eml_file_named_by_time_and_recipient(tmp_path: Path):
    folder = tmp_path / "no-existe-aun"
    with MailDrop(folder) as drop:
        assert drop.port > 0
        send(drop.port, "ana@example.mx", "uno")
        send(drop.port, "../../etc/passwd@example.mx", "dos")
        files = drop.messages()
    assert [parse_eml(f)["Subject"] for f in files] == ["uno", "dos"]
    assert all(f.parent == folder for f in files)
    assert re.fullmatch(r"\d{8}T\d{12}Z-0001-ana_example\.mx\.eml", files[0].name)
    assert "/" not in files[1].name and ".." not in files[1].name.replace(".eml", "")
    assert list(folder.glob("*.tmp")) == []


def test_stop_releases_the_port(tmp_path: Path):
    drop = MailDrop(tmp_path).start()
    port = drop.port
    drop.stop()
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        pass
