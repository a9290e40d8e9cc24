"""The two emails as rendered: content in es-MX, HTML fit for mail clients, escaping,
operator overrides."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path

import pytest

from paylink_tui.mail.errors import HeaderInjection, TemplateProblem
from paylink_tui.mail.render import (
    ReceiptLine,
    RenderedEmail,
    render_confirmation_email,
    render_link_email,
)

URL = "https://sandbox.example.mx/pago?ref=100633640472806&x=1"


def link_email(**overrides) -> RenderedEmail:
    values = dict(
        holder_name="José Peña Núñez",
        policy_number="123456",
        receipts=[
            ReceiptLine("123456-01", Decimal("75.17"), "MXN", dt.date(2021, 9, 1)),
            ReceiptLine("123456-02", Decimal("1234.50"), "MXN", dt.date(2021, 10, 1)),
        ],
        amount=Decimal("1309.67"),
        currency="MXN",
        url=URL,
        reference="100633640472806",
        last_valid_day=dt.date(2021, 10, 10),
        agent_name="Juan Pérez",
        agent_email="juan.perez@agentes.example.mx",
        company="AXA",
    )
    values.update(overrides)
    return render_link_email(**values)


def confirmation_email(**overrides) -> RenderedEmail:
    values = dict(
        holder_name="José Peña Núñez",
        policy_number="123456",
        company="AXA",
        reference="100633640472806",
        paid_at=dt.datetime(2021, 10, 7, 21, 4, 56, tzinfo=dt.timezone.utc),
        tz="America/Mexico_City",
        authorization="426426",
        folio="F-1234",
        amount=Decimal("75.17"),
        currency="MXN",
        card_mask="411111******1111",
        card_type="VISA",
    )
    values.update(overrides)
    return render_confirmation_email(**values)


class Tags(HTMLParser):
    """Every start tag with its attributes, and the visible text."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)

    def visible(self) -> str:
        return " ".join(" ".join(self.text).split())


def test_link_email_names_policy_holder_receipts_amount_date_in_words_and_url():
    r = link_email()
    assert r.subject == "Liga de pago de su póliza 123456"
    for part in (r.text, Tags(r.html).visible()):
        assert "José Peña Núñez" in part
        assert "123456-01" in part and "123456-02" in part
        assert "$ 75.17 MXN" in part and "$ 1,234.50 MXN" in part
        assert "$ 1,309.67 MXN" in part
        assert "domingo 10 de octubre de 2021" in part
        assert "100633640472806" in part
        assert "Juan Pérez" in part and "AXA" in part
    assert URL in r.text


def test_link_email_html_has_a_liga_de_pago_button_and_the_plain_url_beneath():
    tags = Tags(link_email().html)
    links = [a for t, a in tags.tags if t == "a" and a.get("href") == URL]
    assert len(links) == 2  # the button and the plain URL
    html = link_email().html
    button_at = html.index(">Liga de pago</a>")
    plain_at = html.index(f">{URL.replace('&', '&amp;')}</a>")
    assert button_at < plain_at


@pytest.mark.parametrize("make", [link_email, confirmation_email], ids=["link", "confirmation"])
def test_html_is_built_for_mail_clients(make):
    html = make().html
    tags = Tags(html)
    names = [t for t, _ in tags.tags]
    assert "script" not in names
    assert "style" not in names  # styles are inline
    assert "link" not in names  # no external stylesheet
    assert "img" not in names  # no external images
    assert "table" in names  # tables for layout
    assert "div" not in names
    assert all("class" not in a for _, a in tags.tags)
    # Every block and link carries its own inline style.
    for tag, attrs in tags.tags:
        if tag in ("td", "p", "a", "body"):
            assert attrs.get("style"), f"<{tag}> without inline style"
    assert "javascript:" not in html.lower()
    assert "http://" not in html and "url(" not in html


def test_confirmation_shows_approval_company_reference_date_authorization_amount_and_card():
    r = confirmation_email()
    assert "123456" in r.subject and "100633640472806" in r.subject
    for part in (r.text, Tags(r.html).visible()):
        assert "Aprobado" in part
        assert "Empresa" in part and "AXA" in part
        assert "Referencia" in part and "100633640472806" in part
        # 21:04:56 UTC is 16:04:56 in Mexico City that day (UTC-5), MIT's dd/mm/yy form
        assert "Fecha" in part and "07/10/21 16:04:56" in part
        assert "Autorización" in part and "426426" in part
        assert "$ 75.17 MXN" in part
        assert "411111******1111" in part


def test_names_from_the_database_are_escaped_in_html_and_literal_in_text():
    nasty = "<script>alert('x')</script> [bold]Pérez & Hijos[/bold]"
    r = link_email(holder_name=nasty, agent_name="<b>Ana</b>", company="Seguros & Más")
    assert "<script>" not in r.html and "<b>Ana</b>" not in r.html
    assert "&lt;script&gt;" in r.html
    assert "[bold]Pérez &amp; Hijos[/bold]" in r.html
    assert "Seguros &amp; Más" in r.html
    assert "Seguros & Más" not in r.html
    assert nasty in r.text  # plain text is not HTML: shown as is
    assert "Seguros & Más" in r.text


def test_a_url_with_quotes_cannot_break_out_of_the_href():
    r = link_email(url='https://x.example/p?a="><script>alert(1)</script>')
    assert "<script>" not in r.html
    assert 'href="https://x.example/p?a=&#34;&gt;&lt;script&gt;' in r.html


def test_a_subject_with_a_line_break_from_data_is_refused():
    with pytest.raises(HeaderInjection) as err:
        link_email(policy_number="123\r\nBcc: victim@example.com")
    assert "asunto" in err.value.message


def test_an_operator_template_in_templates_dir_wins_over_the_shipped_one(tmp_path: Path):
    (tmp_path / "link.txt").write_text(
        "Hola {{ holder_name }}, pague aquí: {{ url }} antes del {{ valid_until_text }}.\n",
        encoding="utf-8",
    )
    (tmp_path / "link_subject.txt").write_text("Su pago {{ policy_number }}", encoding="utf-8")
    r = link_email(templates_dir=tmp_path)
    assert r.text == f"Hola José Peña Núñez, pague aquí: {URL} antes del domingo 10 de octubre de 2021.\n"
    assert r.subject == "Su pago 123456"
    assert ">Liga de pago</a>" in r.html  # not overridden: the shipped HTML
    # And an override in HTML is autoescaped too.
    (tmp_path / "link.html").write_text("<p>{{ holder_name }}</p>", encoding="utf-8")
    assert link_email(templates_dir=tmp_path, holder_name="A & B").html == "<p>A &amp; B</p>"


def test_a_broken_operator_template_gives_a_spanish_error_naming_the_file(tmp_path: Path):
    (tmp_path / "confirmation.txt").write_text("{{ autorizacion_mal_escrita }}", encoding="utf-8")
    with pytest.raises(TemplateProblem) as err:
        confirmation_email(templates_dir=tmp_path)
    assert "confirmation.txt" in err.value.message
    assert "plantilla" in err.value.message


def test_the_link_email_is_signed_by_the_agent_s_name_or_else_by_the_company():
    signed = link_email(agent_name="Ana Torres", agent_email=None)
    assert "Atentamente,\nAna Torres\n\nAXA" in signed.text
    login = link_email(agent_name="agente", agent_email=None)  # PAYLINK_AGENT left as the OS user
    assert "Atentamente,\nAXA" in login.text
    assert "agente" not in login.text and "agente" not in login.html
    assert "Atentamente,<br>Ana Torres<br>AXA</p>" in signed.html
    assert "Atentamente,<br>AXA</p>" in login.html  # once, not twice
