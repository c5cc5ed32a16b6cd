"""The callback offer's conversation, fed keys as a caller presses them (no mocks, no I/O)."""

from __future__ import annotations

import pytest

from cti.callback_offer import (
    CallbackOffer,
    CallbackRefused,
    CallbackTaken,
    HangUp,
    KeyPressed,
    OfferError,
    OfferEvent,
    OfferMade,
    OfferStep,
    Phase,
    RequestCallback,
    Say,
    StopPrompt,
    handle,
)


def run(offer: CallbackOffer, *events: OfferEvent) -> tuple[CallbackOffer, list[OfferStep]]:
    steps = []
    for event in events:
        step = handle(offer, event)
        offer = step.offer
        steps.append(step)
    return offer, steps


def keys(text: str) -> list[OfferEvent]:
    return [KeyPressed(k) for k in text]


def said(steps: list[OfferStep]) -> list[str]:
    return [c.prompt for s in steps for c in s.commands if isinstance(c, Say)]


def test_a_caller_with_a_number_presses_1_and_is_called_back_on_it() -> None:
    offer, steps = run(CallbackOffer(), OfferMade("48600100200"), KeyPressed("1"))
    assert steps[0].commands == (Say("callback_offer"),)
    assert steps[1].commands == (StopPrompt(), RequestCallback(""))
    assert offer.phase is Phase.REQUESTED
    offer, steps = run(offer, CallbackTaken())
    assert steps[0].commands == (Say("callback_ok", wait=True), HangUp())
    assert offer.phase is Phase.TAKEN


def test_another_key_declines_silently_and_later_keys_are_not_the_offers() -> None:
    offer, steps = run(CallbackOffer(), OfferMade("48600100200"), KeyPressed("2"),
                       KeyPressed("1"))
    assert steps[1].commands == (StopPrompt(),) and steps[1].used
    assert offer.phase is Phase.NONE
    assert steps[2] == OfferStep(offer, (), used=False)


def test_keys_before_any_offer_are_left_to_the_ivr() -> None:
    step = handle(CallbackOffer(), KeyPressed("1"))
    assert not step.used and step.commands == ()


def test_a_withheld_caller_types_a_number_digit_by_digit() -> None:
    offer, steps = run(CallbackOffer(), OfferMade("anonymous"), KeyPressed("1"))
    assert steps[1].commands == (StopPrompt(), Say("callback_need_number"))
    assert (offer.phase, offer.typed) == (Phase.ENTERING, "")
    offer, steps = run(offer, *keys("48000000150"))
    assert offer.typed == "48000000150"
    assert all(s.commands == (StopPrompt(),) and s.used for s in steps)
    offer, steps = run(offer, KeyPressed("#"))
    assert steps[0].commands == (StopPrompt(), RequestCallback("48000000150"))
    offer, steps = run(offer, CallbackTaken())
    assert said(steps) == ["callback_ok"] and isinstance(steps[0].commands[-1], HangUp)


def test_a_short_number_is_refused_once_then_the_caller_stays_in_line() -> None:
    offer, steps = run(CallbackOffer(), OfferMade(""), KeyPressed("1"), *keys("112#"))
    assert said(steps[-1:]) == ["callback_bad_number", "callback_need_number"]
    assert (offer.phase, offer.typed, offer.tries) == (Phase.ENTERING, "", 1)
    offer, steps = run(offer, *keys("12345678#"))  # eight digits: too short to dial
    assert said(steps[-1:]) == ["callback_bad_number", "callback_stay"]
    assert offer.phase is Phase.NONE
    assert not handle(offer, KeyPressed("1")).used


def test_a_second_try_may_succeed() -> None:
    _, steps = run(CallbackOffer(), OfferMade(""), KeyPressed("1"), *keys("12#"),
                       *keys("600100200#"))
    assert steps[-1].commands == (StopPrompt(), RequestCallback("600100200"))


def test_star_gives_up_typing_and_the_caller_stays() -> None:
    offer, steps = run(CallbackOffer(), OfferMade(""), KeyPressed("1"), *keys("600*"))
    assert said(steps[-1:]) == ["callback_stay"] and offer.phase is Phase.NONE


def test_a_typed_number_is_kept_to_16_digits_and_then_refused() -> None:
    offer, _ = run(CallbackOffer(), OfferMade(""), KeyPressed("1"), *keys("1" * 20))
    assert offer.typed == "1" * 16
    offer, steps = run(offer, KeyPressed("#"))  # 16 digits: more than a number has
    assert said(steps) == ["callback_bad_number", "callback_need_number"]


def test_a_refused_request_tells_the_caller_they_stay() -> None:
    offer, steps = run(CallbackOffer(), OfferMade("48600100200"), KeyPressed("1"),
                       CallbackRefused())
    assert steps[-1].commands == (Say("callback_stay"),) and offer.phase is Phase.NONE


def test_keys_while_asking_the_acd_or_saying_goodbye_are_not_the_offers() -> None:
    offer, _ = run(CallbackOffer(), OfferMade("48600100200"), KeyPressed("1"))
    assert not handle(offer, KeyPressed("5")).used
    offer, _ = run(offer, CallbackTaken())
    assert not handle(offer, KeyPressed("5")).used


@pytest.mark.parametrize("events", [
    [CallbackTaken()],
    [CallbackRefused()],
    [OfferMade(""), CallbackTaken()],
    [OfferMade(""), KeyPressed("1"), OfferMade("")],
    [OfferMade("48600100200"), KeyPressed("1"), OfferMade("")],
])
def test_an_event_the_phase_does_not_allow_raises(
        events: list[OfferEvent]) -> None:
    offer, _ = run(CallbackOffer(), *events[:-1])
    with pytest.raises(OfferError):
        handle(offer, events[-1])


def test_an_unanswered_offer_made_again_starts_over() -> None:
    _, steps = run(CallbackOffer(), OfferMade(""), OfferMade("48600100200"),
                       KeyPressed("1"))
    assert steps[-1].commands == (StopPrompt(), RequestCallback(""))
