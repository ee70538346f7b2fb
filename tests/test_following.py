"""The client's merge of a match's feed with its live pushes, on its own (no I/O in it)."""

from __future__ import annotations

from client_sim.following import MatchFollowing


def event(match_id: str, entry_id: str, ev: str = "match.event") -> dict[str, object]:
    return {"ev": ev, "match_id": match_id, "id": entry_id}


def test_live_pushes_held_during_a_catch_up_come_after_it_once_each() -> None:
    following = MatchFollowing()
    following.start("m")
    handed: list[str] = []
    for entry_id in ("10-0", "11-0"):  # seen before the drop
        assert following.is_new("m", event("m", entry_id))
        handed.append(entry_id)

    following.hold()  # reconnected: live pushes wait
    for entry_id in ("14-0", "15-0"):  # arrive while the feed is being read
        assert following.held("m", event("m", entry_id))
    for entry_id in ("12-0", "13-0", "14-0"):  # the feed's answer overlaps the live ones
        if following.is_new("m", event("m", entry_id)):
            handed.append(entry_id)
    for push in following.release():
        if following.is_new("m", push):
            handed.append(str(push["id"]))
    assert handed == ["10-0", "11-0", "12-0", "13-0", "14-0", "15-0"]
    assert not following.held("m", event("m", "16-0"))  # holding stopped


def test_an_ended_match_drops_late_copies_and_is_not_followed() -> None:
    following = MatchFollowing()
    following.start("m")
    following.hold()
    assert following.held("m", event("m", "3-0", "match.ended"))
    assert following.is_new("m", event("m", "3-0", "match.ended"))  # the feed had the end
    following.finish("m")
    assert "m" not in following
    assert [p for p in following.release() if following.is_new("m", p)] == []
    assert not following.is_new("m", event("m", "2-0"))
