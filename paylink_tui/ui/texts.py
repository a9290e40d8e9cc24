"""The sentences of the TUI, in es-MX, in one place (status words are domain/labels.py's).

Each is a function when it takes values, so that the words stay together with their
grammar (singular and plural, the tense of a date)."""

from __future__ import annotations

from datetime import date

from rich.text import Text

from paylink_tui.domain.dates import long_date, short_date


def plural(n: int, one: str, many: str) -> str:
    return one if n == 1 else many


# --- pending list ---------------------------------------------------------------------------

SEARCH_PLACEHOLDER = "Buscar póliza, recibo o nombre…"
NOTHING_PENDING = ("No hay recibos pendientes de pago. Importe la lista de la aseguradora con "
                   "«paylink-tui import ARCHIVO».")
CALCULATING = "Calculando…"
TOTALS_FAILED = "No se pudieron calcular los totales."
MARK_HINT = "espacio: marcar varios · t: ligas a todos"
MARKS_CLEARED = "Se quitaron las marcas."
PAGE_FAILED = ("No se pudo leer la lista de pendientes. Revise la conexión con la base de datos "
               "y pulse F5 para reintentar.")


def no_match(search: str) -> str:
    return (f"Ningún recibo pendiente coincide con «{search.strip()}». Busque por póliza (con o "
            "sin sus letras), recibo o nombre del contratante; Esc borra la búsqueda.")


def off_list_line(item, today: date) -> str:  # type: ignore[no-untyped-def]
    """Why a receipt a search found is not on the pending list (an OffListReceipt)."""
    who = f"El recibo {item.receipt} (póliza {item.policy}, {item.holder})"
    if item.status == "with_link":
        text = f"{who} tiene la liga {item.link_reference}"
        if item.valid_through is not None:
            verb = "vigente hasta" if item.valid_through >= today else "que venció"
            text += f", {verb} el {long_date(item.valid_through)}"
        if item.reappears_on is not None:
            text += f"; si no se paga, vuelve a esta lista el {long_date(item.reappears_on)}"
        return text + "."
    if item.status == "paid":
        via = f" con la liga {item.link_reference}" if item.link_reference else ""
        return f"{who} ya está pagado{via}."
    if item.status == "settled_elsewhere":
        return f"{who} se liquidó fuera: ya no venía en la lista de la aseguradora."
    return f"{who} no está pendiente de pago."


def open_link_hint(receipt: str, several: bool) -> str:
    return f"Enter abre la liga del recibo {receipt}." if several else "Enter abre la liga."


def marks_line(count: int, policy: str, holder: str, total: str) -> str:
    return (f"● {count} {plural(count, 'recibo marcado', 'recibos marcados')} de la póliza "
            f"{policy} ({holder}) · {total}. l: liga de {plural(count, 'ese recibo', 'esos recibos')}"
            " · u: quitar marcas")


def marks_line_many(count: int, policies: int, total: str) -> str:
    """Marks across several policies (or currencies): one link for each, at once (l)."""
    return (f"● {count} {plural(count, 'recibo marcado', 'recibos marcados')} de {policies} "
            f"{plural(policies, 'póliza', 'pólizas')} · {total}. l: una liga por póliza y "
            "moneda, a la vez · u: quitar marcas")


def totals_head(count: int, searching: bool) -> str:
    noun = plural(count, "recibo", "recibos")
    if searching:
        return f"{count:,} {noun} {plural(count, 'coincide', 'coinciden')}"
    return f"{count:,} {noun} {plural(count, 'pendiente', 'pendientes')}"


def sort_subtitle(sort: str) -> str:
    """The header's words for the list's order, and the key that switches it."""
    return "por cese, urgentes primero (o: póliza)" if sort == "lapse" else "por póliza (o: por cese)"


EMAIL_PLACEHOLDER = "nombre@dominio.com"  # as the address errors' example says it

# --- link dialog and confirmation -------------------------------------------------------------

def marked_elsewhere(count: int, policy: str) -> str:
    return (f"Son {plural(count, 'el recibo marcado', f'los {count} recibos marcados')} de la "
            f"póliza {policy}, no la del cursor. Para ligar otro recibo, quite las marcas (u).")


def link_warnings(preview) -> list[Text]:  # type: ignore[no-untyped-def]
    """The link dialog's warnings (a LinkPreview's): never a refusal."""
    if preview is None:
        return []
    lines: list[Text] = []
    if preview.older_warning:
        lines.append(Text.assemble(("Recibos anteriores: ", "bold"), preview.older_warning,
                                   (" ctrl+o los incluye en la liga.", "bold")))
    if preview.lapse_warning:
        lines.append(Text.assemble(("Cese: ", "bold"), preview.lapse_warning))
    return lines


def older_included(count: int) -> str:
    return (f"Se incluyeron los recibos anteriores: la liga cubre {count} "
            f"{plural(count, 'recibo', 'recibos')}, del más antiguo al más reciente.")


def receipts_label(count: int) -> str:
    return plural(count, "Recibo", "Recibos")


def valid_through_line(day: date) -> str:
    return f"Vigencia: hasta el {long_date(day)}."


def reappears_line(day: date, count: int = 2) -> str:
    what = plural(count, "el recibo volverá", "los recibos volverán")
    return f"Si no se paga, {what} a aparecer el {long_date(day)}."


COPIED = "Liga copiada al portapapeles (c para copiarla de nuevo)."
COPY_UNKNOWN = ("Si su terminal lo permite, la liga ya está en el portapapeles. Si no, "
                "selecciónela con el ratón y cópiela (en tmux, con Mayús presionada).")
WHATSAPP_OFFER = "WhatsApp: w copia la dirección con el mensaje y la liga (no se envía nada)."
WHATSAPP_DETAIL = "w copia la dirección con el mensaje y la liga (no se envía nada)"
WHATSAPP_SELECT = ("Si su terminal lo permite, la dirección ya está en el portapapeles. Si no, "
                   "selecciónela con el ratón (en tmux, con Mayús presionada) y ábrala en el "
                   "navegador o en WhatsApp: el mensaje ya va escrito. No se envía nada.")
NO_WHATSAPP = ("Esta liga no tiene WhatsApp: el contratante no tiene un teléfono válido (10 "
               "dígitos, o +52 y 10 dígitos) o la liga ya no se puede pagar.")


WHATSAPP_COPIED = "Dirección de WhatsApp copiada: ábrala para enviar el mensaje (no se envió nada)."
WHATSAPP_SHOWN = "Dirección de WhatsApp mostrada para copiarla a mano (w la muestra de nuevo)."

# --- reminders (the link's detail) ------------------------------------------------------------

REMINDERS_OFF_LINE = ("  Sin recordatorios: el agente la marcó así; no se envían más al cliente "
                      "(s los reactiva).")
REMINDERS_OFF_CLOSED = "  Sin recordatorios (marcada así por el agente)."
NO_REMINDERS_LEFT = "  Ninguno pendiente: ya pasaron los días de recordatorio de esta liga."
NO_REMINDERS_SET = "  Ninguno: los recordatorios están desactivados (PAYLINK_REMINDER_DAYS vacío)."


def reminders_due(days: list[date], hour: int, to: str) -> str:
    when = " y ".join(long_date(d) for d in days)
    what = plural(len(days), "Próximo recordatorio", "Próximos recordatorios")
    return (f"  {what}: {when}, desde las {hour:02d}:00, a {to}, si la liga sigue sin pagar "
            "(s: sin recordatorios).")


def reminders_set(reference: str, enabled: bool) -> str:
    if enabled:
        return (f"Liga {reference}: con recordatorios de nuevo; el cliente los recibe mientras "
                "no pague.")
    return f"Liga {reference}: sin recordatorios. No se enviarán más recordatorios al cliente."


NO_URL_YET = "Esta liga no tiene URL todavía (MIT no la confirmó)."


def copied_link(reference: str, known: bool) -> str:
    if known:
        return f"Liga {reference} copiada al portapapeles."
    return (f"Si su terminal lo permite, la liga {reference} ya está en el portapapeles. Si no, "
            "ábrala con Enter y selecciónela con el ratón (en tmux, con Mayús presionada).")


# --- history ----------------------------------------------------------------------------------

HISTORY_SEARCH_PLACEHOLDER = "Buscar póliza, recibo, contratante o referencia…"
HISTORY_SEARCH_SHORT = "Póliza, recibo o nombre…"  # at 80 columns
NO_LINKS_YET = "Todavía no hay ligas. Genere la primera desde la lista de pendientes (l)."


def no_links(search: str, filters: list[str]) -> str:
    what = f"Ninguna liga coincide con «{search.strip()}»" if search.strip() else "No hay ligas"
    if filters:
        what += " con " + " y ".join(filters)
    return what + ". Esc borra la búsqueda; e cambia el filtro de estado."


def resend_prompt(reference: str) -> Text:
    return Text.assemble(
        "Se enviará la misma liga ", (reference, "bold"), ". Para corregir la dirección, "
        "escriba la nueva: la liga la conservará para los siguientes envíos.")


def resent(reference: str, to: str) -> str:
    return f"Correo de la liga {reference} reenviado a {to}."


def still_queued(to: str, error: str | None, *, queued: bool = True) -> str:
    """A resent link email that did not go out: what happens next, true in both cases."""
    from paylink_tui.domain.labels import email_not_sent

    why = f" Motivo: {error}" if error else ""
    return email_not_sent(to, queued=queued) + why


def cancel_prompt(reference: str, valid_through: date) -> Text:
    return Text.assemble(
        "¿Cancelar la liga ", (reference, "bold"), "?\n\n",
        (f"MIT seguirá aceptando el pago hasta el {long_date(valid_through)}", "bold"),
        ": MIT no permite cancelar ligas. Si el cliente paga, el pago se aplica y queda "
        "marcado para revisión.\n\nLos recibos vuelven hoy a la lista de pendientes y la liga "
        "ya no se reenvía.")


def cancelled(reference: str) -> str:
    return f"Liga {reference} cancelada."


def confirmed(reference: str, valid_through: date) -> str:
    return f"Liga {reference} confirmada por MIT; vigente hasta el {long_date(valid_through)}."


def retry_not_needed(reference: str, status_word: str) -> str:
    return (f"La liga {reference} está {status_word}: MIT ya respondió, no hay nada que "
            "reintentar. «Reintentar con MIT» es para las ligas «Sin confirmar».")


def not_live(reference: str, status_word: str, doing: str) -> str:
    return f"La liga {reference} está {status_word}: sólo se {doing} ligas vigentes."


def link_not_found(reference: str) -> str:
    return f"No se encontró la liga {reference}."


def flag_text(link, flag) -> str:  # type: ignore[no-untyped-def]
    """Why the link is flagged for review, and what the client can still do with it."""
    if flag.applied:
        why = f"sus recibos se pagaron con la liga anterior {flag.older_reference}"
    else:
        why = (f"hay un pago por revisar de la liga anterior {flag.older_reference} "
               "para los mismos recibos")
    until = long_date(link.valid_through)
    if link.status == "paid":
        risk = "esta liga también se pagó: posible doble cargo al cliente"
    elif not link.open_at_mit:
        risk = f"venció el {until}; MIT ya no la cobra"
    elif link.status == "cancelled":
        risk = f"está cancelada, pero el cliente aún puede pagarla en MIT hasta el {until}"
    else:
        risk = f"el cliente aún puede pagar esta liga en MIT hasta el {until} — cancélela"
    return f"Marcada para revisión: {why}; {risk}. Resuélvalo en «Por revisar» (v)."


def mit_accepts_until(day: date, today: date) -> str:
    verb = "aceptará" if day >= today else "aceptó"
    return f"MIT {verb} el pago hasta el {long_date(day)}"


def short(day: date) -> str:
    return short_date(day)


# --- "Por revisar" ------------------------------------------------------------------------------
# The agent never reads the database's numbers: a payment is named by MIT's folio and its
# reference.


def _payment(item) -> str:  # type: ignore[no-untyped-def]
    if item is None:
        return "pago"
    folio = f" con folio {item.folio}" if item.folio else ""
    return f"pago{folio} de la referencia {item.reference or '—'}"


def payment_name(item) -> str:  # type: ignore[no-untyped-def]
    return f"El {_payment(item)}"


def apply_prompt(item) -> str:  # type: ignore[no-untyped-def]
    return (f"Aplicar el {_payment(item)} a la liga cuya referencia escriba. Queda "
            "registrado quién lo hizo.")


def dismiss_prompt(item) -> str:  # type: ignore[no-untyped-def]
    if item.applied:
        return (f"{payment_name(item)} ya se aplicó a la liga {item.link_reference or '—'}. "
                "Resuélvalo con una nota que diga qué revisó (por ejemplo, que avisó al cliente).")
    return f"Resolver sin aplicar el {_payment(item)}. Explique por qué en la nota."


def applied(item, reference: str, status: str,  # type: ignore[no-untyped-def]
            email_problem: str | None = None) -> str:
    done = f"{payment_name(item)} se aplicó a la liga {reference.strip()}."
    if status == "review":
        done += (" Sigue por revisar: los recibos tienen una liga más reciente que el "
                 "cliente aún puede pagar en MIT (vea la nota).")
    if email_problem:  # applied all the same (issue 12)
        done += (f" El correo de confirmación al cliente no se pudo enviar: {email_problem} "
                 "Avísele por otro medio.")
    return done


# A held payment that does not fit the link it is applied to (another amount, an impossible
# time, not confirmed by MIT): the agent sees both sides and says yes explicitly.
DIFFERS_TITLE = "Confirmar la diferencia"
DIFFERS_CONFIRM = "Aplicar de todos modos"


def differs(reference: str, differences: list[str]) -> Text:
    message = Text.assemble("El pago no coincide con la liga ", (reference, "bold"), ":\n")
    for line in differences:
        message.append(f"\n• {line}")
    message.append("\n\n¿Aplicarlo de todos modos? Quedará registrado que usted lo aceptó.")
    return message


def dismissed(item) -> str:  # type: ignore[no-untyped-def]
    return f"{payment_name(item)} quedó resuelto con su nota."


REVIEW_INTRO = ("Pagos que MIT notificó y que no se aplicaron solos. Revise cada uno: aplíquelo a "
                "la liga correcta (a) o resuélvalo con una nota (d).")
REVIEW_EMPTY = "No hay pagos por revisar."
REVIEW_LOAD_FAILED = "No se pudo leer la lista por revisar. Pulse F5 para reintentar."
NO_EMAIL_ON_FILE = "Sin correo registrado: escríbalo al generar la liga."
HAS_LIVE_LINK = "Este recibo ya tiene una liga vigente."

# The client already paid (MIT is being asked to confirm it): chasing them would be wrong.
PAYMENT_ARRIVED = ("El cliente ya pagó esta liga; el pago se está confirmando con MIT. No la "
                   "reenvíe ni la cancele.")


# --- many links at once ---------------------------------------------------------------------

BATCH_TITLE = "Ligas para varios clientes"
BATCH_LOADING = "Preparando el lote: qué ligas se generarán y quién se omite…"
BATCH_LIST_LIMIT = 12  # lines per group; the rest counted
BATCH_STOPPING = "Deteniendo: se terminan las ligas en curso (ninguna queda a medias)…"
BATCH_NOTHING = "No hay ligas que generar: nada que confirmar."


def batch_what(search: str | None, marked: int) -> str:
    if marked:
        return f"Los {marked} recibos marcados (una liga por póliza y moneda, con todos sus pendientes)."
    if search and search.strip():
        return f"Cada recibo pendiente que coincide con «{search.strip()}»."
    return "Todos los recibos pendientes de la lista."


def batch_go(links: int) -> str:
    return f"Generar {links:,} {plural(links, 'liga', 'ligas')}"


def batch_progress(p) -> str:  # type: ignore[no-untyped-def]
    return (f"Generando ligas: {p.done:,} de {p.total:,} · {p.made:,} "
            f"{plural(p.made, 'hecha', 'hechas')}, {p.skipped:,} "
            f"{plural(p.skipped, 'omitida', 'omitidas')}, {p.failed:,} "
            f"{plural(p.failed, 'fallida', 'fallidas')}")


def _more(shown: int, total: int) -> Text | None:
    return Text(f"  … y {total - shown:,} más", style="dim") if total > shown else None


def batch_skips(skipped) -> list[Text]:  # type: ignore[no-untyped-def]
    """Who the plan leaves out, by reason."""
    from paylink_tui.domain.labels import BATCH_SKIP

    lines: list[Text] = []
    if not skipped:
        return lines
    verb = "Se omite" if len(skipped) == 1 else "Se omiten"
    lines.append(Text(f"{verb} {len(skipped):,} {plural(len(skipped), 'recibo', 'recibos')}:",
                      style="bold"))
    by: dict[str, list] = {}
    for skip in skipped:
        by.setdefault(skip.reason, []).append(skip)
    for reason, skips in by.items():
        lines.append(Text(f"  {BATCH_SKIP.get(reason, reason).capitalize()} ({len(skips):,}):"))
        for s in skips[:BATCH_LIST_LIMIT]:
            who = f"{s.receipt} (póliza {s.policy}, {s.holder})" if s.policy else s.receipt
            # "Sin correo registrado" says it all; the others' detail adds until when, or why.
            lines.append(Text(f"    {who}" if reason == "no_email" else f"    {who}: {s.detail}"))
        more = _more(min(len(skips), BATCH_LIST_LIMIT), len(skips))
        if more is not None:
            lines.append(more)
    return lines


def batch_plan(plan) -> Text:  # type: ignore[no-untyped-def]
    """The confirmation: how many links, to how many clients, for how much, who is skipped."""
    lines: list[Text] = [Text(plan.summary, style="bold")]
    if plan.links:
        lines.append(Text(""))
        for link in plan.links[:BATCH_LIST_LIMIT]:
            count = len(link.receipts)
            # Two short lines, so that a narrow dialog cuts no name, amount or address.
            lines.append(Text.assemble("  ", (link.policy, "bold"), "  ", link.holder))
            lines.append(Text.assemble(
                "    ", (f"{count} {plural(count, 'recibo', 'recibos')}", "dim"), " · ",
                (link.amount_text, "bold"), (" · a ", "dim"), link.email))
        more = _more(min(len(plan.links), BATCH_LIST_LIMIT), len(plan.links))
        if more is not None:
            lines.append(more)
    skips = batch_skips(plan.skipped)
    if skips:
        lines.append(Text(""))
        lines += skips
    if plan.links:
        lines.append(Text(""))
        lines.append(Text("Nada se genera hasta que confirme. Se puede detener a la mitad (d o "
                          "Esc): las ligas en curso terminan y volver a generar continúa sin "
                          "duplicar ninguna.", style="italic"))
    return Text("\n").join(lines)


def batch_outcome(outcome) -> Text:  # type: ignore[no-untyped-def]
    """What the batch made, skipped and failed, with the reasons."""
    from paylink_tui.domain.batch import amounts_text
    from paylink_tui.domain.labels import EMAIL
    from paylink_tui.domain.status import EmailStatus

    made = sorted(outcome.made, key=lambda r: (r.policy, r.currency))  # as planned, not as finished
    lines: list[Text] = []
    head = f"Ligas generadas: {len(made):,}"
    if made:
        head += f" por {amounts_text(outcome.amounts)}"
    lines.append(Text(head + ".", style="bold"))
    if outcome.stopped:  # first: what the agent must do next
        count = len(outcome.not_run)
        not_tried = plural(count, "liga no se intentó", "ligas no se intentaron")
        lines.append(Text(f"Detenido: {count:,} {not_tried}. Vuelva a generar el lote para "
                          "continuar: no se duplica ninguna liga.", style="bold"))
    for r in made[:BATCH_LIST_LIMIT]:
        email = EMAIL.get(EmailStatus(r.email_status), "") if r.email_status else ""
        lines.append(Text.assemble("  ", (r.policy, "bold"), f": {r.reference}",
                                   (f", correo {email.lower()} a " if email else ", a ", "dim"),
                                   r.email or ""))
    more = _more(min(len(made), BATCH_LIST_LIMIT), len(made))
    if more is not None:
        lines.append(Text("  … y las demás, cada una con su referencia, en Historial (h).",
                          style="dim"))
    waiting = [r for r in made if r.email_status and r.email_status != EmailStatus.SENT.value]
    if waiting:
        lines.append(Text(f"  {len(waiting):,} {plural(len(waiting), 'correo quedó', 'correos quedaron')}"
                          " en cola: se reintentan solos mientras la aplicación esté abierta."))
    skips = batch_skips(outcome.plan_skipped)
    if skips:
        lines.append(Text(""))
        lines += skips
    if outcome.skipped:
        lines.append(Text(""))
        lines.append(Text(f"Al generar, ya con liga o ya pagados ({len(outcome.skipped):,}):", style="bold"))
        for r in sorted(outcome.skipped, key=lambda r: r.policy)[:BATCH_LIST_LIMIT]:
            lines.append(Text(f"  {r.policy} ({', '.join(r.receipts)}): {r.message}"))
    if outcome.failed:
        lines.append(Text(""))
        lines.append(Text(f"Fallidas: {len(outcome.failed):,}", style="bold"))
        for r in sorted(outcome.failed, key=lambda r: r.policy)[:BATCH_LIST_LIMIT]:
            if r in outcome.unconfirmed:
                why = (f"sin confirmar por MIT (referencia {r.reference}); vuelva a generar el "
                       "lote: se reintenta con la misma referencia.")
            else:
                why = r.message or "sin motivo"
            lines.append(Text(f"  {r.policy} ({', '.join(r.receipts)}): {why}"))
    return Text("\n").join(lines)
