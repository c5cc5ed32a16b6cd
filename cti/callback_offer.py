"""The callback offer to a caller waiting in line: which key accepts, how a withheld caller
types a number, what they hear after. `handle(offer, event) -> OfferStep`; pure.

Rules:
- The ACD decides *when* to offer (`commands.OfferCallback`); this machine runs the
  conversation that follows, one per waiting caller, fed the caller's keys.
- The table `TRANSITIONS` is the whole machine, keyed by (phase, event type); an event the
  phase does not allow raises `OfferError` and leaves the offer as it was. A key in a phase
  where no answer is expected is no error: it is reported unused (`used=False`), the IVR's.
- Any key that answers the offer cuts the prompt playing short (`StopPrompt` first): a caller
  who presses a key has heard enough.
- "1" accepts; any other key declines, silently, and the caller stays in line.
- A caller whose own number cannot be dialled (withheld, too short) is asked for one instead of
  being promised a callback that would never be made: digits are collected (at most 16), "#"
  ends the number, "*" gives up (the caller stays in line). A number of 9 to 15 digits is
  taken; after the second one refused the caller stays in line.
- An accepted offer asks the ACD (`RequestCallback`; "" means the caller's own number) and is
  told the answer: taken → the caller hears the confirmation to its end and is hung up;
  refused → the caller hears they stay in line.
- No timers: an offer nobody answers stays open until the caller leaves the line.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from cti.floor import valid_number
from cti.frozen import evolve

MAX_TYPED = 16  # digits kept of a typed number; a longer one is refused at "#"
MIN_TYPED = 9  # a typed number shorter than a Polish subscriber number is a typo
MAX_TRIES = 2  # typed numbers refused before the caller is left in line


class OfferError(ValueError):
    """An event the offer's phase does not allow; the offer is unchanged."""


class Phase(StrEnum):
    NONE = "none"  # nothing offered, or the offer declined or given up
    OFFERED = "offered"  # the offer was played; a key answers it
    ENTERING = "entering"  # a withheld caller types the number to be called back on
    REQUESTED = "requested"  # the ACD was asked for the callback; its answer is awaited
    TAKEN = "taken"  # the callback is registered; the caller is being said goodbye


# --- events -------------------------------------------------------------------------------
@dataclass(frozen=True)
class OfferMade:
    """The ACD offered a callback; `caller_number` is the caller's own (maybe withheld) id."""

    caller_number: str


@dataclass(frozen=True)
class KeyPressed:
    digit: str  # 0-9, *, #


@dataclass(frozen=True)
class CallbackTaken:
    """The ACD registered the callback."""


@dataclass(frozen=True)
class CallbackRefused:
    """The ACD would not register it (the caller left meanwhile, the number is not valid)."""


OfferEvent = OfferMade | KeyPressed | CallbackTaken | CallbackRefused


# --- commands -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Say:
    """Play queue prompt `prompt` in the caller's language; `wait`: until it has ended."""

    prompt: str
    wait: bool = False


@dataclass(frozen=True)
class StopPrompt:
    """Cut the queue prompt playing now short."""


@dataclass(frozen=True)
class RequestCallback:
    """Feed `CallbackRequested` to the ACD and answer with CallbackTaken/CallbackRefused."""

    number: str  # "" = the caller's own number


@dataclass(frozen=True)
class HangUp:
    """Hang the caller up: their place in line is now a callback."""


OfferCommand = Say | StopPrompt | RequestCallback | HangUp


@dataclass(frozen=True)
class CallbackOffer:
    phase: Phase = Phase.NONE
    caller_number: str = ""
    typed: str = ""  # digits of the number being typed (ENTERING)
    tries: int = 0  # typed numbers refused so far


@dataclass(frozen=True)
class OfferStep:
    offer: CallbackOffer
    commands: tuple[OfferCommand, ...] = ()
    used: bool = True  # False: a key this offer does not expect, left to the IVR


# --- transitions --------------------------------------------------------------------------
def _offer(offer: CallbackOffer, event: OfferMade) -> OfferStep:
    return OfferStep(CallbackOffer(Phase.OFFERED, caller_number=event.caller_number),
                     (Say("callback_offer"),))


def _answer(offer: CallbackOffer, event: KeyPressed) -> OfferStep:
    if event.digit != "1":
        return OfferStep(evolve(offer, phase=Phase.NONE), (StopPrompt(),))
    if not valid_number(offer.caller_number):
        return OfferStep(evolve(offer, phase=Phase.ENTERING, typed=""),
                         (StopPrompt(), Say("callback_need_number")))
    return OfferStep(evolve(offer, phase=Phase.REQUESTED), (StopPrompt(), RequestCallback("")))


def _type(offer: CallbackOffer, event: KeyPressed) -> OfferStep:
    if event.digit == "*":
        return OfferStep(evolve(offer, phase=Phase.NONE, typed=""),
                         (StopPrompt(), Say("callback_stay")))
    if event.digit != "#":
        return OfferStep(evolve(offer, typed=(offer.typed + event.digit)[:MAX_TYPED]),
                         (StopPrompt(),))
    if valid_number(offer.typed) and len(offer.typed) >= MIN_TYPED:
        return OfferStep(evolve(offer, phase=Phase.REQUESTED),
                         (StopPrompt(), RequestCallback(offer.typed)))
    tries = offer.tries + 1
    if tries < MAX_TRIES:
        return OfferStep(evolve(offer, typed="", tries=tries),
                         (StopPrompt(), Say("callback_bad_number"), Say("callback_need_number")))
    return OfferStep(evolve(offer, phase=Phase.NONE, typed="", tries=tries),
                     (StopPrompt(), Say("callback_bad_number"), Say("callback_stay")))


def _unused(offer: CallbackOffer, event: KeyPressed) -> OfferStep:
    return OfferStep(offer, used=False)


def _taken(offer: CallbackOffer, event: CallbackTaken) -> OfferStep:
    return OfferStep(evolve(offer, phase=Phase.TAKEN), (Say("callback_ok", wait=True), HangUp()))


def _refused(offer: CallbackOffer, event: CallbackRefused) -> OfferStep:
    return OfferStep(evolve(offer, phase=Phase.NONE), (Say("callback_stay"),))


P = Phase
# Each transition takes the event its key names (Any: a dict cannot say so per key).
TRANSITIONS: dict[tuple[Phase, type[Any]], Callable[[CallbackOffer, Any], OfferStep]] = {
    (P.NONE, OfferMade): _offer,
    # Offered again (back in line after a transfer) before the first was answered.
    (P.OFFERED, OfferMade): _offer,
    (P.OFFERED, KeyPressed): _answer,
    (P.ENTERING, KeyPressed): _type,
    (P.REQUESTED, CallbackTaken): _taken,
    (P.REQUESTED, CallbackRefused): _refused,
    (P.NONE, KeyPressed): _unused,
    (P.REQUESTED, KeyPressed): _unused,
    (P.TAKEN, KeyPressed): _unused,
}


def handle(offer: CallbackOffer, event: OfferEvent) -> OfferStep:
    transition = TRANSITIONS.get((offer.phase, type(event)))
    if transition is None:
        raise OfferError(f"{type(event).__name__} is not expected while the callback offer "
                         f"is {offer.phase.value}")
    return transition(offer, event)
