"""The users of the agency's server (team mode): who they are, their role, their agent codes,
and their password.

Passwords are hashed with Argon2id (argon2-cffi) with the parameters below (ARGON2_*), chosen
so that one sign-in costs a deliberate ~0.1 s on one core of the agency's server and never
more than 0.3 s (measured in tests/team/test_users_sessions.py). A new user, or one whose password an
administrador reset, gets a one-time password that must be changed at the first sign-in
(`PasswordChangeRequired` until a new one is given). Sign-in refusal is one message whatever
the cause — unknown user, wrong password, disabled user — and costs the same time (an
unknown user is checked against a dummy hash), so it never tells whether a user exists.

Managing users needs the administrador role (the one-agent mode's local agent, and the
`users` command run where the database is, are the administrador).
"""

from __future__ import annotations

import re
import secrets
import unicodedata
from collections.abc import Iterable

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from argon2.low_level import Type
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from paylink_tui.domain.errors import PasswordChangeRequired, SignInRefused, UserError
from paylink_tui.domain.results import (
    ALL_CODES,
    ROLE_ADMIN,
    ROLE_AGENT,
    ROLES,
    Identity,
    UserRow,
)
from paylink_tui.services import audit
from paylink_tui.services.access import require_role
from paylink_tui.services.context import AppContext
from paylink_tui.store.db import read_session, write_session
from paylink_tui.store.models import User, UserSession

# Argon2id, 32 MiB, 2 passes, one lane: above OWASP's floor for Argon2id (19 MiB, 2 passes),
# ~0.09 s of one core per sign-in on the 2-core test machine (tests/team/test_users_sessions.py
# measures it; at most 0.3 s), and 32 MiB per sign-in in flight (20 at once: 640 MiB). RFC
# 9106's 64 MiB measured 0.19 s of CPU here: over 0.3 s as soon as two sign-ins share a core.
ARGON2_TIME_COST = 2
ARGON2_MEMORY_KIB = 32 * 1024
ARGON2_PARALLELISM = 1
ARGON2_HASH_LEN = 32
ARGON2_SALT_LEN = 16

_HASHER = PasswordHasher(time_cost=ARGON2_TIME_COST, memory_cost=ARGON2_MEMORY_KIB,
                         parallelism=ARGON2_PARALLELISM, hash_len=ARGON2_HASH_LEN,
                         salt_len=ARGON2_SALT_LEN, type=Type.ID)

MIN_PASSWORD = 10
MAX_PASSWORD = 1024  # Argon2 pre-hashes it, but a megabyte "password" is an attack
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._@-]{0,99}$")
_CODE_RE = re.compile(r"^[A-Z0-9][A-Z0-9._-]{0,39}$")
# One-time passwords: 16 characters of an alphabet without look-alikes (~79 bits), in groups.
_OTP_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"

_dummy_hash: str | None = None


def _dummy() -> str:
    """A hash to verify against when the user is unknown: the same cost as a real one."""
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = _HASHER.hash(secrets.token_urlsafe(16))
    return _dummy_hash


def normalise_name(name: str) -> str:
    return unicodedata.normalize("NFKC", name or "").strip().lower()


def _valid_name(name: str) -> str:
    n = normalise_name(name)
    if not _NAME_RE.match(n):
        raise UserError("Nombre de usuario no válido: use de 1 a 100 letras sin acento, "
                        "números, punto, guion, guion bajo o arroba, empezando por letra o "
                        "número (por ejemplo «maria.lopez»).")
    return n


def normalise_code(code: str) -> str:
    """An agent code as stored and compared: trimmed, upper case (the import does the same)."""
    return unicodedata.normalize("NFKC", str(code or "")).strip().upper()


def parse_codes(codes: Iterable[str] | str | None, *, role: str) -> tuple[str, ...]:
    if isinstance(codes, str):
        codes = codes.split(",")
    found: list[str] = []
    for raw in codes or ():
        code = normalise_code(raw)
        if not code:
            continue
        if code != ALL_CODES and not _CODE_RE.match(code):
            raise UserError(f"Clave de agente no válida: «{code[:40]}». Use letras, números, "
                            "punto o guion (por ejemplo A001), o «*» para todas.")
        if code not in found:
            found.append(code)
    if ALL_CODES in found:
        return (ALL_CODES,)
    if not found:
        if role == ROLE_AGENT:
            raise UserError("Un usuario con rol agente necesita al menos una clave de agente "
                            "(--claves A001,A002) o «*» para todas.")
        return (ALL_CODES,)
    return tuple(found)


def _valid_role(role: str) -> str:
    r = (role or "").strip().lower()
    if r not in ROLES:
        raise UserError(f"Rol no válido: «{role[:40]}». Use agente, supervisor o "
                        "administrador.")
    return r


def _valid_password(password: str) -> str:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        raise UserError(f"La contraseña debe tener al menos {MIN_PASSWORD} caracteres.")
    if len(password) > MAX_PASSWORD:
        raise UserError(f"La contraseña no puede tener más de {MAX_PASSWORD} caracteres.")
    return password


def one_time_password() -> str:
    chars = "".join(secrets.choice(_OTP_ALPHABET) for _ in range(16))
    return "-".join(chars[i:i + 4] for i in range(0, 16, 4))


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def _codes_text(codes: tuple[str, ...]) -> str:
    return ",".join(codes)


def codes_of(user: User) -> tuple[str, ...]:
    return tuple(c for c in (user.codes or "").split(",") if c)


def identity_of(ctx: AppContext, user: User) -> Identity:
    s = ctx.settings
    return Identity(user=user.name, role=user.role, codes=codes_of(user), server=None,
                    timezone=s.timezone, company=s.company, promotions=s.promotion_plans,
                    reminder_days=s.reminder_offsets, reminder_hour=s.reminder_hour)


def _row(user: User) -> UserRow:
    return UserRow(name=user.name, role=user.role, codes=codes_of(user),
                   disabled=bool(user.disabled),
                   must_change_password=bool(user.must_change_password),
                   created_at=user.created_at)


# -- managing users (administrador) ---------------------------------------------------------


def add_user(ctx: AppContext, name: str, *, role: str, codes: Iterable[str] | str | None = None,
             password: str | None = None) -> str:
    """Add a user; returns the password to hand over: the one-time password made here when
    `password` is None (it must be changed at first sign-in), else `password` (which needs
    no change: provisioning by script)."""
    require_role(ctx, ROLE_ADMIN)
    name = _valid_name(name)
    role = _valid_role(role)
    stored_codes = parse_codes(codes, role=role)
    one_time = password is None
    secret = one_time_password() if one_time else _valid_password(password)  # type: ignore[arg-type]
    digest = hash_password(secret)
    now = ctx.now()
    try:
        with write_session(ctx.engine) as session:
            if session.scalar(select(User.id).where(User.name == name)) is not None:
                raise UserError(f"Ya existe el usuario «{name}».")
            session.add(User(name=name, role=role, codes=_codes_text(stored_codes),
                             password_hash=digest, must_change_password=one_time,
                             disabled=False, created_at=now,
                             password_changed_at=None if one_time else now))
            audit.record(session, at=now, agent=ctx.agent, action="user_added", subject=name,
                         detail=f"rol {role}; claves {_codes_text(stored_codes)}")
    except IntegrityError:  # the same name added at the same instant elsewhere
        raise UserError(f"Ya existe el usuario «{name}».") from None
    return secret


def list_users(ctx: AppContext) -> list[UserRow]:
    require_role(ctx, ROLE_ADMIN)
    with read_session(ctx.engine) as session:
        return [_row(u) for u in session.scalars(select(User).order_by(User.name))]


def _user_for_update(session, name: str) -> User:  # type: ignore[no-untyped-def]
    user = session.scalars(select(User).where(User.name == normalise_name(name))
                           .with_for_update()).first()
    if user is None:
        raise UserError(f"No existe el usuario «{normalise_name(name)[:100]}».")
    return user


def disable_user(ctx: AppContext, name: str) -> None:
    """Disable a user: refused at sign-in from now on, and every session of theirs ends."""
    require_role(ctx, ROLE_ADMIN)
    now = ctx.now()
    with write_session(ctx.engine) as session:
        user = _user_for_update(session, name)
        user.disabled = True
        session.add(user)
        session.execute(UserSession.__table__.delete()
                        .where(UserSession.__table__.c.user_id == user.id))
        audit.record(session, at=now, agent=ctx.agent, action="user_disabled",
                     subject=user.name)


def reset_password(ctx: AppContext, name: str, password: str | None = None) -> str:
    """A new password for `name` (a one-time one made here when `password` is None); the
    user's sessions end. Returns the password to hand over."""
    require_role(ctx, ROLE_ADMIN)
    one_time = password is None
    secret = one_time_password() if one_time else _valid_password(password)  # type: ignore[arg-type]
    digest = hash_password(secret)
    now = ctx.now()
    with write_session(ctx.engine) as session:
        user = _user_for_update(session, name)
        user.password_hash = digest
        user.must_change_password = one_time
        user.password_changed_at = None if one_time else now
        session.add(user)
        session.execute(UserSession.__table__.delete()
                        .where(UserSession.__table__.c.user_id == user.id))
        audit.record(session, at=now, agent=ctx.agent, action="password_reset",
                     subject=user.name)
    return secret


# -- signing in ---------------------------------------------------------------------------


def _verify(digest: str, password: str) -> bool:
    try:
        return _HASHER.verify(digest, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def authenticate(ctx: AppContext, name: str, password: str, *,
                 new_password: str | None = None) -> Identity:
    """The Identity of `name` when `password` is theirs and they are not disabled.

    Raises SignInRefused (one message, whatever the cause), or PasswordChangeRequired when
    the password is a one-time password and no `new_password` was given (with it, the
    password is changed and the sign-in goes on)."""
    if not isinstance(password, str) or not isinstance(name, str) \
            or len(password) > MAX_PASSWORD or len(name) > 200:
        _verify(_dummy(), "x")  # the same cost as any other refusal
        raise SignInRefused()
    key = normalise_name(name)
    with read_session(ctx.engine) as session:
        user = session.scalars(select(User).where(User.name == key)).first()
    if user is None:
        _verify(_dummy(), password)
        raise SignInRefused()
    ok = _verify(user.password_hash, password)
    if not ok or user.disabled:
        raise SignInRefused()
    if user.must_change_password:
        if new_password is None:
            raise PasswordChangeRequired()
        _valid_password(new_password)
        if new_password == password:
            raise UserError("La contraseña nueva debe ser distinta de la temporal.")
        return _change_password(ctx, user.name, old_hash=user.password_hash,
                                new_password=new_password)
    if _HASHER.check_needs_rehash(user.password_hash):
        _rehash(ctx, user, password)
    return identity_of(ctx, user)


def _change_password(ctx: AppContext, name: str, *, old_hash: str,
                     new_password: str) -> Identity:
    digest = hash_password(new_password)
    now = ctx.now()
    with write_session(ctx.engine) as session:
        user = _user_for_update(session, name)
        # Someone changed or reset it meanwhile, or disabled the user: refuse.
        if user.password_hash != old_hash or user.disabled:
            raise SignInRefused()
        user.password_hash = digest
        user.must_change_password = False
        user.password_changed_at = now
        session.add(user)
        audit.record(session, at=now, agent=user.name, action="password_changed",
                     subject=user.name)
        return identity_of(ctx, user)


def _rehash(ctx: AppContext, user: User, password: str) -> None:
    """A hash made with older parameters is replaced by one with today's, at sign-in."""
    digest = hash_password(password)
    with write_session(ctx.engine) as session:
        session.execute(User.__table__.update()
                        .where(User.__table__.c.id == user.id,
                               User.__table__.c.password_hash == user.password_hash)
                        .values(password_hash=digest))
