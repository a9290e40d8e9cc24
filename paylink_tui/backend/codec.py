"""JSON for the team-mode API: the result types of `domain.results` (and the Backend's
parameters) to JSON values and back, generic over the dataclasses' type hints.

- Decimal: a string, two decimals for money (`"75.17"`); a value with more decimals keeps
  them all (never rounded on the way); floats stay numbers.
- datetime: ISO 8601 with its offset (`2021-10-07T21:04:56+00:00`); an instant without an
  offset is refused when read, and a naive one written is taken as UTC (the store's rule).
- date: ISO (`2021-10-07`); tuples and lists: arrays; dicts: objects with string keys.
- A dataclass: an object with its fields' names (no properties); unknown fields, missing
  required fields and wrong types are refused with `CodecError(field, message)`, whose
  `field` is the path to the bad value (`plan.links[0].amount`): the API answers 422 with it.
- `error_to_json` / `error_from_json`: an AgentError as `{"error": kind, "message": …,
  "retryable": …, "extra": {…}}`, raised again on the client as the same class
  (`domain.errors.error_kinds`) with the same Spanish message.

Pure: no SQLAlchemy, no gateway (the remote client imports it).
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from collections.abc import Sequence
from datetime import date, datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Any, Union

from paylink_tui.backend import api_errors  # noqa: F401 - registers the API's error kinds
from paylink_tui.domain.errors import AgentError, BackendUnavailable, error_kinds

__all__ = ["CodecError", "error_from_json", "error_to_json", "from_json", "hints", "to_json"]


class CodecError(ValueError):
    """A JSON value that does not fit the type asked for; `field` says where."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field or '(cuerpo)'}: {message}")
        self.field = field
        self.message = message


# -- writing ---------------------------------------------------------------------------------


def _decimal_text(value: Decimal) -> str:
    if not value.is_finite():
        raise ValueError("a non-finite Decimal has no JSON form")
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -2:
        return format(value, "f")  # more than cents: keep every digit
    return f"{value:.2f}"


def to_json(obj: Any) -> Any:
    """A JSON-ready value (dict/list/str/int/float/bool/None) for `obj`."""
    if obj is None or isinstance(obj, (bool, int, str)):
        return obj
    if isinstance(obj, float):
        return obj
    if isinstance(obj, Decimal):
        return _decimal_text(obj)
    if isinstance(obj, datetime):  # before date: a datetime is a date
        if obj.tzinfo is None:
            obj = obj.replace(tzinfo=timezone.utc)
        return obj.isoformat()
    if isinstance(obj, date):
        return obj.isoformat()
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_json(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, dict):
        return {str(k): to_json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_json(v) for v in obj]
    raise TypeError(f"no JSON form for {type(obj).__name__}")


# -- reading ---------------------------------------------------------------------------------


@functools.cache
def _field_hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def hints(func: Any) -> dict[str, Any]:
    """The resolved type hints of a function (a Backend method's parameters)."""
    return typing.get_type_hints(func)


def _kind(value: Any) -> str:
    return {bool: "booleano", int: "entero", float: "número", str: "texto", list: "lista",
            dict: "objeto", type(None): "null"}.get(type(value), type(value).__name__)


def _wrong(path: str, expected: str, value: Any) -> CodecError:
    return CodecError(path, f"se esperaba {expected}, llegó {_kind(value)}")


def from_json(type_: Any, data: Any, path: str = "") -> Any:
    """`data` (parsed JSON) as a value of `type_`; CodecError naming the field otherwise."""
    origin = typing.get_origin(type_)
    if type_ is Any:
        return data
    if type_ is None or type_ is type(None):
        if data is not None:
            raise _wrong(path, "null", data)
        return None
    if origin in (Union, types.UnionType):
        options = typing.get_args(type_)
        if data is None and type(None) in options:
            return None
        first: CodecError | None = None
        for option in options:
            if option is type(None):
                continue
            try:
                return from_json(option, data, path)
            except CodecError as exc:
                first = first or exc
        assert first is not None
        raise first
    if origin is typing.Literal:
        if data not in typing.get_args(type_):
            raise CodecError(path, "valor no permitido")
        return data
    if type_ is bool:
        if not isinstance(data, bool):
            raise _wrong(path, "booleano", data)
        return data
    if type_ is int:
        if isinstance(data, bool) or not isinstance(data, int):
            raise _wrong(path, "entero", data)
        return data
    if type_ is float:
        if isinstance(data, bool) or not isinstance(data, (int, float)):
            raise _wrong(path, "número", data)
        return float(data)
    if type_ is str:
        if not isinstance(data, str):
            raise _wrong(path, "texto", data)
        return data
    if type_ is Decimal:
        return _read_decimal(data, path)
    if type_ is datetime:
        return _read_datetime(data, path)
    if type_ is date:
        return _read_date(data, path)
    if origin in (list, Sequence, typing.Sequence) or type_ in (list, Sequence):
        (item,) = typing.get_args(type_) or (Any,)
        if not isinstance(data, list):
            raise _wrong(path, "lista", data)
        return [from_json(item, v, f"{path}[{i}]") for i, v in enumerate(data)]
    if origin is tuple or type_ is tuple:
        return _read_tuple(type_, data, path)
    if origin is dict or type_ is dict:
        key_t, value_t = typing.get_args(type_) or (str, Any)
        if not isinstance(data, dict):
            raise _wrong(path, "objeto", data)
        if key_t is not str:
            raise TypeError(f"dict keys must be str, not {key_t}")
        return {k: from_json(value_t, v, f"{path}.{k}" if path else k) for k, v in data.items()}
    if isinstance(type_, type) and dataclasses.is_dataclass(type_):
        return _read_dataclass(type_, data, path)
    raise TypeError(f"no JSON reading for {type_!r}")


def _read_decimal(data: Any, path: str) -> Decimal:
    if not isinstance(data, str):
        raise _wrong(path, "un importe como texto («75.17»)", data)
    text = data.strip()
    if len(text) > 40:
        raise CodecError(path, "importe demasiado largo")
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise CodecError(path, "importe no válido") from None
    if not value.is_finite():
        raise CodecError(path, "importe no válido")
    return value


def _read_datetime(data: Any, path: str) -> datetime:
    if not isinstance(data, str):
        raise _wrong(path, "fecha y hora ISO 8601", data)
    try:
        value = datetime.fromisoformat(data)
    except ValueError:
        raise CodecError(path, "fecha y hora no válida (ISO 8601 con zona horaria)") from None
    if value.tzinfo is None or value.utcoffset() is None:
        raise CodecError(path, "la fecha y hora debe llevar su zona horaria")
    return value


def _read_date(data: Any, path: str) -> date:
    if not isinstance(data, str) or len(data) != 10:
        raise _wrong(path, "fecha ISO (AAAA-MM-DD)", data)
    try:
        return date.fromisoformat(data)
    except ValueError:
        raise CodecError(path, "fecha no válida (AAAA-MM-DD)") from None


def _read_tuple(type_: Any, data: Any, path: str) -> tuple[Any, ...]:
    args = typing.get_args(type_)
    if not isinstance(data, list):
        raise _wrong(path, "lista", data)
    if not args:
        return tuple(data)
    if len(args) == 2 and args[1] is Ellipsis:
        return tuple(from_json(args[0], v, f"{path}[{i}]") for i, v in enumerate(data))
    if len(data) != len(args):
        raise CodecError(path, f"se esperaban {len(args)} elementos, llegaron {len(data)}")
    return tuple(from_json(t, v, f"{path}[{i}]") for i, (t, v) in enumerate(zip(args, data, strict=True)))


def _read_dataclass(cls: type, data: Any, path: str) -> Any:
    if not isinstance(data, dict):
        raise _wrong(path, "objeto", data)
    hints_ = _field_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    for name in data:
        if name not in fields:
            raise CodecError(f"{path}.{name}" if path else str(name), "campo desconocido")
    values: dict[str, Any] = {}
    for name, f in fields.items():
        where = f"{path}.{name}" if path else name
        if name not in data:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise CodecError(where, "campo obligatorio")
            continue
        values[name] = from_json(hints_[name], data[name], where)
    return cls(**values)


# -- errors ----------------------------------------------------------------------------------


def _json_safe(value: Any) -> Any:
    try:
        return to_json(value)
    except TypeError:
        return None


def error_to_json(exc: AgentError) -> dict[str, Any]:
    """`{"error": kind, "message": Spanish, "retryable": bool, "extra": {...}}`. `extra`: the
    error's own fields (`AgentError.extra()`, plus its public attributes), JSON-safe."""
    extra = {k: _json_safe(v) for k, v in vars(exc).items()
             if not k.startswith("_") and k not in ("message", "retryable")}
    extra.update({k: _json_safe(v) for k, v in exc.extra().items()})
    return {"error": type(exc).__name__, "message": exc.message,
            "retryable": bool(exc.retryable), "extra": extra}


# Attributes whose JSON is a Decimal text (PlanRefused.minimum).
_DECIMAL_ATTRS = frozenset({"minimum"})


def error_from_json(data: Any) -> AgentError:
    """The AgentError `data` describes, of its own class when this build knows it (else the
    nearest: AgentError), with its message and fields; garbage: BackendUnavailable."""
    if not isinstance(data, dict) or not isinstance(data.get("message"), str):
        return BackendUnavailable("El servidor respondió algo que no se pudo leer.")
    kinds = error_kinds()
    kind = str(data.get("error"))
    # A snake_case kind (`password_change_required`) names the same class.
    cls = kinds.get(kind) or kinds.get(kind.title().replace("_", "")) or AgentError
    exc = cls.__new__(cls)
    Exception.__init__(exc, data["message"])
    exc.message = data["message"]
    if isinstance(data.get("retryable"), bool):
        exc.retryable = data["retryable"]
    extra = data.get("extra")
    for key, value in (extra.items() if isinstance(extra, dict) else ()):
        if not isinstance(key, str) or key.startswith("_") or key in ("message", "args"):
            continue
        if key in _DECIMAL_ATTRS and isinstance(value, str):
            try:
                value = Decimal(value)
            except InvalidOperation:
                value = None
        try:
            setattr(exc, key, value)
        except AttributeError:  # a property of the class: leave it
            pass
    return exc
