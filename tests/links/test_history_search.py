"""Historial's search and what a search that finds no pending receipt is told, through the
backend interface, on both engines, with links made at the sandbox over HTTP."""

from __future__ import annotations

from datetime import date

from paylink_tui.backend.local import LocalBackend


def _book(make_ctx, sandbox, seed, clock):
    ctx = make_ctx(mit_gen_url=sandbox.gen_url)
    seed(ctx.engine, "AU01213813", [("4100000154", "75.17", "MXN"), ("4100000157", "80.00", "MXN")],
         now=clock(), holder=("Patricia", "Martínez", "Díaz"))
    seed(ctx.engine, "GM81031676", [("4100000200", "1500.00", "MXN")], now=clock(),
         holder=("Juan", "Sánchez", "Ruiz"), email="juan@example.com")
    seed(ctx.engine, "VI30000003", [("4100000300", "10.00", "USD", "paid")], now=clock(),
         holder=("Rosa", "Peña", ""))
    backend = LocalBackend(ctx)
    first = backend.generate_link(receipt_numbers=["4100000154"], email="patricia@example.com")
    second = backend.generate_link(receipt_numbers=["4100000200"], email="juan@example.com")
    return backend, first, second


def test_history_is_searched_by_policy_receipt_holder_and_reference(make_ctx, sandbox, seed, clock):
    backend, first, second = _book(make_ctx, sandbox, seed, clock)

    def found(text: str) -> list[str]:
        return [row.reference for row in backend.list_links(search=text)]

    assert found("") == [second.reference, first.reference]
    assert found("martinez") == [first.reference]  # the holder, accents folded
    assert found("SÁNCHEZ juan") == [second.reference]
    assert found("4100000154") == [first.reference]  # a receipt of the link
    assert found("4100000157") == []  # same policy, not in the link
    assert found("AU01213813") == [first.reference]  # the policy
    assert found("81031676") == [second.reference]  # the policy without its letters
    assert found(second.reference) == [second.reference]  # the whole reference
    assert found(second.reference.rsplit("-", 1)[1]) == [second.reference]  # its random part
    assert found("martinez juan") == []
    assert found('%" OR 1=1 --') == []
    assert [r.reference for r in backend.list_links(search="juan", status="active")] == [second.reference]
    assert backend.list_links(search="juan", status="paid") == []


def test_a_search_that_finds_no_pending_receipt_says_where_the_receipt_went(make_ctx, sandbox, seed, clock):
    backend, first, _ = _book(make_ctx, sandbox, seed, clock)

    assert backend.pending_page(search="4100000154").rows == []
    [linked] = backend.off_list(search="4100000154")
    assert (linked.receipt, linked.policy, linked.holder) == ("4100000154", "AU01213813",
                                                              "Patricia Martínez Díaz")
    assert linked.status == "with_link" and linked.link_status == "active"
    assert linked.link_reference == first.reference
    # Generated 07/10/2021: valid through the 10th, pending again from the 12th if unpaid.
    assert (linked.valid_through, linked.reappears_on) == (date(2021, 10, 10), date(2021, 10, 12))

    [paid] = backend.off_list(search="pena")
    assert (paid.receipt, paid.status, paid.link_reference) == ("4100000300", "paid", None)
    # Pending receipts are not "off the list"; a policy typed without letters finds them too.
    assert [r.receipt for r in backend.off_list(search="01213813")] == ["4100000154"]
    assert backend.off_list(search="") == []
    assert backend.off_list(search="nadie") == []
