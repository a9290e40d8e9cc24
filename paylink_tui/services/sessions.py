"""Signed-in sessions of the agency's server (team mode): opaque bearer tokens.

A token is `secrets.token_urlsafe(32)` (256 bits); only its SHA-256 is stored, so a copy of
the database signs nobody in. A session ends after IDLE_LIMIT without use, or ABSOLUTE_LIMIT
after it was opened, whichever comes first, when it is closed (logout), or when its user is
disabled or their password reset. Every instant comes from `ctx.clock`.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, select

from paylink_tui.domain.errors import SignInRefused
from paylink_tui.domain.results import Identity
from paylink_tui.services.context import AppContext
from paylink_tui.services.users import identity_of, normalise_name
from paylink_tui.store.db import read_session, write_session
from paylink_tui.store.models import User, UserSession

IDLE_LIMIT = timedelta(hours=12)
ABSOLUTE_LIMIT = timedelta(days=7)
# `last_seen_at` is written at most this often: a burst of requests is one write, and the
# idle expiry is exact to within it.
TOUCH_EVERY = timedelta(seconds=60)
_MAX_TOKEN = 200


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def _expiry(last_seen: datetime, absolute: datetime) -> datetime:
    return min(last_seen + IDLE_LIMIT, absolute)


def open_session(ctx: AppContext, identity: Identity) -> tuple[str, datetime]:
    """A new session for `identity` (as `users.authenticate` returned it): (token, the
    instant it expires unless used before)."""
    token = secrets.token_urlsafe(32)
    now = ctx.now()
    with write_session(ctx.engine) as session:
        user = session.scalars(select(User).where(User.name == normalise_name(identity.user))
                               ).first()
        if user is None or user.disabled:
            raise SignInRefused()
        absolute = now + ABSOLUTE_LIMIT
        session.add(UserSession(token_hash=token_hash(token), user_id=user.id, created_at=now,
                                last_seen_at=now, expires_at=absolute))
    return token, _expiry(now, absolute)


def resolve(ctx: AppContext, token: str | None) -> Identity | None:
    """The Identity the token stands for, read afresh (role and codes as they are now), or
    None when the token is unknown, expired, or its user disabled. Slides the idle expiry."""
    if not token or not isinstance(token, str) or len(token) > _MAX_TOKEN:
        return None
    digest = token_hash(token)
    now = ctx.now()
    s = UserSession.__table__.c
    with read_session(ctx.engine) as session:
        found = session.execute(
            select(UserSession, User).join(User, User.id == UserSession.user_id)
            .where(s.token_hash == digest)).first()
    if found is None:
        return None
    sess, user = found
    if user.disabled or user.must_change_password or now >= _expiry(sess.last_seen_at,
                                                                    sess.expires_at):
        return None
    if now - sess.last_seen_at >= TOUCH_EVERY:
        with write_session(ctx.engine) as session:
            session.execute(UserSession.__table__.update()
                            .where(s.id == sess.id, s.last_seen_at < now)
                            .values(last_seen_at=now))
    return identity_of(ctx, user)


def session_expiry(ctx: AppContext, token: str) -> datetime | None:
    """When the session would expire if not used again (None: no such live session)."""
    s = UserSession.__table__.c
    with read_session(ctx.engine) as session:
        sess = session.scalars(select(UserSession).where(s.token_hash == token_hash(token))
                               ).first()
    if sess is None:
        return None
    when = _expiry(sess.last_seen_at, sess.expires_at)
    return when if ctx.now() < when else None


def close_session(ctx: AppContext, token: str | None) -> None:
    """End the session (logout). Unknown or already closed: nothing happens."""
    if not token or not isinstance(token, str) or len(token) > _MAX_TOKEN:
        return
    with write_session(ctx.engine) as session:
        session.execute(delete(UserSession).where(
            UserSession.__table__.c.token_hash == token_hash(token)))


def purge_expired(ctx: AppContext) -> int:
    """Delete the sessions that can no longer be used; how many."""
    now = ctx.now()
    s = UserSession.__table__.c
    with write_session(ctx.engine) as session:
        result = session.execute(delete(UserSession).where(
            (s.expires_at <= now) | (s.last_seen_at <= now - IDLE_LIMIT)))
        return int(result.rowcount or 0)
