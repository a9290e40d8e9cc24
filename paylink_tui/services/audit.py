"""The audit trail: who did what to which thing, and when."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from paylink_tui.store.models import AuditEvent


def record(session: Session, *, at: datetime, agent: str, action: str, subject: str,
           detail: str | None = None) -> None:
    session.add(AuditEvent(at=at, agent=agent, action=action, subject=subject, detail=detail))
