"""The sandbox's `POST /pgs/services/xmltransacciones`: MIT's transaction query, answered
from the payments the sandbox itself took, in exactly the shape MIT answers
(gateway/mit_query.py): a SOAP envelope whose `out` is the encrypted pair of sibling
elements `<transacciones>…</transacciones><transaccionesCautM>…</transaccionesCautM>`,
operation numbers zero-padded to 9 digits, amounts without a fixed scale.

What MIT answers to a request it cannot read is not public: the sandbox answers a SOAP
fault (HTTP 500), which our client treats as a failure to ask, never as "not listed"."""

from __future__ import annotations

import logging
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from paylink_tui.gateway.crypto import CryptoError, decrypt, encrypt
from paylink_tui.gateway.messages import UnsafeXML, parse_xml, text_of
from paylink_tui.gateway.mit_query import (
    MAX_ANSWER_BYTES,
    SOAP_NS,
    WST_NS,
    answer_envelope,
    fault_envelope,
    padded_operation,
    transactions_xml,
)

if TYPE_CHECKING:
    from paylink_tui.gateway.sandbox.app import Sandbox
    from paylink_tui.gateway.sandbox.state import Payment, SandboxLink

log = logging.getLogger(__name__)

AFFILIATION = "1234567"
LISTED = ("approved", "denied")  # an error never reached the bank: MIT lists no sale


class QueryRefused(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _mit_amount(amount: Decimal) -> str:
    """No fixed scale, as MIT lists it: 10.05, 10.5, 35000."""
    text = format(amount.normalize(), "f")
    return text


def _row(sandbox: Sandbox, link: SandboxLink, p: Payment) -> dict[str, str]:
    taken = datetime.strptime(f"{p.date} {p.time}", "%d/%m/%y %H:%M:%S")  # noqa: DTZ007 - local
    instrument = p.cc_type.split("/", 1)[0].capitalize() if p.cc_type else ""
    return {
        "nu_operaion": padded_operation(p.folio),
        "cd_usuario": sorted(sandbox.users)[0],
        "cd_empresa": sandbox.id_company,
        "nu_sucursal": sandbox.id_branch,
        "nu_afiliacion": AFFILIATION,
        "nb_referencia": link.reference,
        "cc_nombre": p.cc_name,
        "cc_num": p.cc_number,
        "cc_tp": p.cc_type.rsplit("/", 1)[-1] if p.cc_type else "",
        "nu_importe": _mit_amount(link.amount),
        # The payer's plan: a single payment, or meses sin intereses (MIT's MSI).
        "cd_tipopago": "Contado" if p.promocion in ("", "C") else "MSI",
        "cd_tipocobro": "Moto",
        "cd_instrumento": instrument,
        "nb_response": p.response,
        "nu_auth": p.auth,
        "fh_registro": taken.strftime("%d/%m/%Y %H:%M"),
        "fh_bank": taken.strftime("%d/%m/%Y"),
        "cd_usrtransaccion": "",
        "tp_operacion": "VENTA",
        "nb_currency": link.currency,
        "cd_resp": p.cd_error if p.response != "approved" else "",
        "nb_resp": p.nb_error if p.response != "approved" else "",
    }


def _taken_on(p: Payment) -> date:
    return datetime.strptime(p.date, "%d/%m/%y").date()  # noqa: DTZ007 - a local calendar day


def transactions(sandbox: Sandbox, reference: str, day: date) -> list[dict[str, str]]:
    """What the sandbox took on `day` for `reference` (every reference when empty)."""
    if reference:
        link = sandbox.state.by_reference.get(reference)
        links = [link] if link is not None else []
    else:
        links = sorted(sandbox.state.links.values(), key=lambda x: x.created_at)
    return [_row(sandbox, link, p) for link in links for p in link.payments
            if p.response in LISTED and _taken_on(p) == day]


def _request(sandbox: Sandbox, body: bytes) -> tuple[str, date]:
    """(reference, day) from the SOAP request, or QueryRefused."""
    try:
        envelope = parse_xml(body.decode("utf-8", errors="replace").strip(),
                             max_chars=MAX_ANSWER_BYTES)
    except UnsafeXML:
        raise QueryRefused("El mensaje SOAP es inválido.") from None
    call = envelope.find(f"{{{SOAP_NS}}}Body/{{{WST_NS}}}transacciones")
    if call is None:
        raise QueryRefused("Falta la operación transacciones.")
    data0 = text_of(call, f"{{{WST_NS}}}in0")
    if data0 != sandbox.data0:
        raise QueryRefused("El elemento in0 es incorrecto.")
    try:
        fragment = decrypt(text_of(call, f"{{{WST_NS}}}in1"), sandbox.key)
        root = parse_xml(f"<consulta>{fragment}</consulta>")
    except (CryptoError, UnsafeXML):
        raise QueryRefused("El elemento in1 es incorrecto.") from None
    order = [child.tag for child in root]
    if order != ["user", "pwd", "id_company", "date", "id_branch", "reference"]:
        raise QueryRefused("El elemento in1 es incorrecto.")
    if (text_of(root, "user") not in sandbox.users or text_of(root, "pwd") != sandbox.password
            or text_of(root, "id_company") != sandbox.id_company
            or text_of(root, "id_branch") != sandbox.id_branch):
        raise QueryRefused("Los datos de acceso del comercio son incorrectos.")
    try:
        day = datetime.strptime(text_of(root, "date"), "%d/%m/%Y").date()  # noqa: DTZ007
    except ValueError:
        raise QueryRefused("El elemento date es incorrecto (dd/MM/yyyy).") from None
    return text_of(root, "reference"), day


def answer(sandbox: Sandbox, body: bytes) -> tuple[int, str]:
    """(HTTP status, SOAP body) for a query request."""
    try:
        reference, day = _request(sandbox, body)
    except QueryRefused as exc:
        log.info("sandbox: query refused: %s", exc.message)
        return 500, fault_envelope("soap:Client", exc.message)
    rows = transactions(sandbox, reference, day)
    log.info("sandbox: query %s %s: %d transaction(s)", reference or "(all)", day, len(rows))
    return 200, answer_envelope(encrypt(transactions_xml(rows), sandbox.key))
