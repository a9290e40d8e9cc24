"""`paylink-tui demo --equipo`: the server on loopback with the demo data split between two
agents' codes, three users with one-time passwords, and the first agent signed in over HTTP
(the remote backend) seeing only their portfolio."""

from __future__ import annotations

from paylink_tui.backend.remote import sign_in
from paylink_tui.demo.team import TEAM_USERS, describe_team, start_team_demo
from paylink_tui.domain.errors import PasswordChangeRequired


def test_the_team_demo_signs_in_the_first_agent_on_their_portfolio(tmp_path) -> None:
    demo = start_team_demo(tmp_path / "demo-equipo", receipts=60)
    try:
        backend = demo.backend
        me = backend.identity()
        assert (me.user, me.role, me.codes) == ("agente1", "agente", ("A001",))
        mine = list(backend.iter_pending())
        assert 0 < len(mine) < 60
        supervisor_pw = demo.passwords["supervisora"]
        try:
            sign_in(demo.api_url, "supervisora", supervisor_pw)
            raise AssertionError("a one-time password must be changed")
        except PasswordChangeRequired:
            pass
        token, _, who = sign_in(demo.api_url, "agente2", demo.passwords["agente2"],
                                new_password="otra-contraseña-larga")
        from paylink_tui.backend.remote import RemoteBackend

        other = RemoteBackend(demo.api_url, token)
        theirs = list(other.iter_pending())
        other.close()
        assert theirs and not {r.receipt for r in theirs} & {r.receipt for r in mine}
        assert len(mine) + len(theirs) == 60
        text = describe_team(demo)
        for name in TEAM_USERS:
            assert name in text
        assert demo.passwords["agente2"] in text and demo.first_password in text
    finally:
        demo.backend.close()
        demo.runtime.stop()
