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
