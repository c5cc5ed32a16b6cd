"""The overload guard's levels: they rise at once and fall only after a calm spell."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pbx.overload import OverloadGuard, Reading

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def at(s: float) -> datetime:
    return T0 + timedelta(seconds=s)


def test_levels_follow_calls_ari_and_the_loop() -> None:
    guard = OverloadGuard(max_calls=100, calm_s=20)
    assert guard.assess(Reading(at(0), calls=10)) == "normal" and guard.reason == ""
    assert guard.assess(Reading(at(1), calls=80)) == "strained"
    assert guard.assess(Reading(at(2), calls=100)) == "overloaded"
    assert guard.reason == "100 calls in progress (at most 100)"
    # Calmer readings do not lower the level before the calm spell is over.
    assert guard.assess(Reading(at(3), calls=10)) == "overloaded"
    assert guard.assess(Reading(at(22), calls=10)) == "overloaded"
    assert guard.assess(Reading(at(23), calls=10)) == "normal"
    # A wedged or slow Asterisk, a lagging loop: shed before it gets worse.
    assert OverloadGuard().assess(Reading(at(0), calls=0, ari_state="unresponsive")) == \
        "overloaded"
    assert OverloadGuard().assess(Reading(at(0), calls=0, ari_rtt_s=1.5)) == "overloaded"
    assert OverloadGuard().assess(Reading(at(0), calls=0, ari_state="slow")) == "strained"
    assert OverloadGuard().assess(Reading(at(0), calls=0, loop_lag_s=0.8)) == "strained"
    # A busy machine alone (another program's load) does not shed callers.
    assert OverloadGuard().assess(Reading(at(0), calls=0, load_per_core=4.0)) == "normal"


def test_a_spike_inside_the_calm_spell_starts_it_again() -> None:
    guard = OverloadGuard(max_calls=10, calm_s=10)
    guard.assess(Reading(at(0), calls=10))
    guard.assess(Reading(at(5), calls=0))
    guard.assess(Reading(at(8), calls=10))  # back up: overloaded again, calm restarts
    assert guard.assess(Reading(at(16), calls=0)) == "overloaded"
    assert guard.assess(Reading(at(26), calls=0)) == "normal"


def test_a_level_raised_by_ari_falls_soon_after_asterisk_answers_again() -> None:
    # A stall that has passed must not shed the callers the machine now serves: with 20 s of
    # calm after it, a 6 s freeze of Asterisk told 211 of 400 benchmark callers "busy".
    guard = OverloadGuard(max_calls=100, calm_s=20, quick_calm_s=2)
    assert guard.assess(Reading(at(0), calls=10, ari_state="unresponsive")) == "overloaded"
    assert guard.cause == "ari"
    assert guard.assess(Reading(at(1), calls=10)) == "overloaded"
    assert guard.assess(Reading(at(3), calls=10)) == "normal"
    # Raised by the count of calls, the level keeps the long calm spell (a surge does not flap).
    guard.assess(Reading(at(10), calls=100))
    assert guard.cause == "calls"
    assert guard.assess(Reading(at(11), calls=10)) == "overloaded"
    assert guard.assess(Reading(at(20), calls=10)) == "overloaded"
    assert guard.assess(Reading(at(31), calls=10)) == "normal"
    # The loop's lag, like ARI, is measured and falls quickly.
    guard.assess(Reading(at(40), calls=0, loop_lag_s=1.5))
    assert guard.cause == "loop"
    assert guard.assess(Reading(at(41), calls=0)) == "overloaded"
    assert guard.assess(Reading(at(43), calls=0)) == "normal"
