"""The API's JSON codec: every result type goes there and back unchanged; money and instants
in the contract's form; wrong input refused naming the field; errors keep class and message."""

from __future__ import annotations

import dataclasses
import inspect
import json
import typing
from collections.abc import Sequence
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from paylink_tui.backend.codec import (
    CodecError,
    error_from_json,
    error_to_json,
    from_json,
    to_json,
)
from paylink_tui.domain import errors, results
from paylink_tui.domain.promotions import InstallmentPlan

MEXICO = timezone(timedelta(hours=-6))


def _result_types() -> list[type]:
    found = {obj for obj in vars(results).values()
             if inspect.isclass(obj) and dataclasses.is_dataclass(obj)}
    return sorted(found | {InstallmentPlan}, key=lambda c: c.__name__)


def sample(type_: Any, variant: int = 0) -> Any:
    """A value of `type_` with every field set (variant 1: optional fields None)."""
    origin = typing.get_origin(type_)
    if origin in (typing.Union, __import__("types").UnionType):
        options = [t for t in typing.get_args(type_) if t is not type(None)]
        if variant == 1 and type(None) in typing.get_args(type_):
            return None
        return sample(options[0], variant)
    if type_ is bool:
        return True
    if type_ is int:
        return 7
    if type_ is float:
        return 0.25
    if type_ is str:
        return "Peña «ñ» \u202e"
    if type_ is Decimal:
        return Decimal("75.17")
    if type_ is datetime:
        return datetime(2021, 10, 7, 16, 4, 56, tzinfo=MEXICO)
    if type_ is date:
        return date(2021, 10, 7)
    if origin in (list, Sequence):
        return [sample(typing.get_args(type_)[0], variant)]
    if origin is tuple:
        args = typing.get_args(type_)
        if len(args) == 2 and args[1] is Ellipsis:
            return (sample(args[0], variant), sample(args[0], variant))
        return tuple(sample(a, variant) for a in args)
    if origin is dict:
        return {"MXN": sample(typing.get_args(type_)[1], variant)}
    if dataclasses.is_dataclass(type_):
        hints = typing.get_type_hints(type_)
        return type_(**{f.name: sample(hints[f.name], variant)
                        for f in dataclasses.fields(type_) if f.init})
    raise AssertionError(f"no sample for {type_!r}")


@pytest.mark.parametrize("variant", [0, 1])
@pytest.mark.parametrize("cls", _result_types(), ids=lambda c: c.__name__)
def test_every_result_type_round_trips(cls: type, variant: int) -> None:
    value = sample(cls, variant)
    text = json.dumps(to_json(value), ensure_ascii=False)
    back = from_json(cls, json.loads(text))
    assert back == value
    assert type(back) is cls


def test_the_list_of_result_types_is_not_empty() -> None:
    names = {c.__name__ for c in _result_types()}
    assert {"PendingRow", "LinkDetail", "BatchPlan", "Identity", "EventBatch",
            "ImportReport", "InstallmentPlan", "ReconcileReport"} <= names


def test_money_instants_and_days_in_the_contract_form() -> None:
    row = sample(results.PendingRow)
    data = to_json(row)
    assert data["amount"] == "75.17"
    assert data["due_date"] == "2021-10-07"
    assert data["lapses_at"] == "2021-10-07T16:04:56-06:00"
    assert to_json(Decimal("75.1")) == "75.10"
    assert to_json(Decimal("1234")) == "1234.00"
    assert to_json(Decimal("0.125")) == "0.125"  # never rounded on the way
    naive = datetime(2021, 10, 7, 21, 4, 56)
    assert to_json(naive) == "2021-10-07T21:04:56+00:00"


def test_tuples_of_tuples_and_dicts_come_back_as_their_types() -> None:
    detail = sample(results.LinkDetail)
    back = from_json(results.LinkDetail, json.loads(json.dumps(to_json(detail))))
    number, amount, currency, due = back.receipts[0]
    assert isinstance(amount, Decimal) and isinstance(due, date)
    assert isinstance(back.link.flags, tuple)
    summary = from_json(results.Summary, {"sent_today": 1, "sent_week": 2, "paid_share": None,
                                          "collected": {"MXN": "10.00"}, "daily_sent": [1]})
    assert summary.collected == {"MXN": Decimal("10.00")}


@pytest.mark.parametrize(("data", "field"), [
    ({"count": "3"}, "count"),
    ({"count": True}, "count"),
    ({"count": 3, "amounts": {"MXN": 10}}, "amounts.MXN"),
    ({"count": 3, "amounts": {"MXN": "NaN"}}, "amounts.MXN"),
    ({"count": 3, "amounts": {"MXN": "diez"}}, "amounts.MXN"),
    ({"count": 3, "extra": 1}, "extra"),
    ({}, "count"),
])
def test_wrong_input_names_the_field(data: dict[str, Any], field: str) -> None:
    with pytest.raises(CodecError) as caught:
        from_json(results.PendingTotals, data)
    assert caught.value.field == field


def test_nested_paths_and_instants_without_offset() -> None:
    plan = to_json(sample(results.BatchPlan))
    plan["links"][0]["amount"] = 12
    with pytest.raises(CodecError) as caught:
        from_json(results.BatchPlan, plan)
    assert caught.value.field == "links[0].amount"
    with pytest.raises(CodecError) as caught:
        from_json(datetime, "2021-10-07T21:04:56", "at")
    assert caught.value.field == "at"
    with pytest.raises(CodecError):
        from_json(date, "2021-10-07T00:00:00")
    with pytest.raises(CodecError):
        from_json(tuple[str, date, str], ["P1", "2021-10-07"])


def _error_samples() -> list[errors.AgentError]:
    return [
        errors.ReceiptNotFound("No existe el recibo R1."),
        errors.AlreadyLinked("El recibo ya tiene liga.", reference="PL-1"),
        errors.PlanRefused("No aplica.", months=6, minimum=Decimal("600.00")),
        errors.GatewayNotConfiguredError(["PAYLINK_MIT_KEY"]),
        errors.GatewayFailure("MIT rechazó.", retryable=True, still_unconfirmed="PL-2"),
        errors.OutcomeUnknown("No se sabe.", reference="PL-3"),
        errors.NeedsConfirmation(4, "PL-4", ["El monto difiere."]),
        errors.BackendUnavailable("Sin base de datos."),
        errors.Forbidden("Su rol no lo permite."),
    ]


@pytest.mark.parametrize("exc", _error_samples(), ids=lambda e: type(e).__name__)
def test_errors_come_back_as_their_class_with_their_message(exc: errors.AgentError) -> None:
    data = json.loads(json.dumps(error_to_json(exc)))
    assert data["error"] == type(exc).__name__
    assert data["message"] == exc.message
    back = error_from_json(data)
    assert type(back) is type(exc)
    assert back.message == exc.message and str(back) == str(exc)
    assert back.retryable == exc.retryable
    assert back.extra() == exc.extra()
    for name, value in vars(exc).items():
        assert getattr(back, name) == value


def test_every_error_kind_is_known_and_unknown_ones_stay_agent_errors() -> None:
    kinds = errors.error_kinds()
    assert {"NotSignedIn", "Forbidden", "LinkNotFound", "ReceiptNotFound"} <= set(kinds)
    back = error_from_json({"error": "SomethingNew", "message": "Algo nuevo."})
    assert type(back) is errors.AgentError and back.message == "Algo nuevo."
    assert isinstance(error_from_json(["garbage"]), errors.BackendUnavailable)
    assert isinstance(error_from_json({"error": "Forbidden"}), errors.BackendUnavailable)
