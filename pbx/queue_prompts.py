"""What a caller waiting in line hears, in their language, rendered before any call.

Rules:
- every text here is rendered and staged at start-up (`all_refs`), so no prompt is ever
  rendered on a call's path; numbers (a position, minutes) are separate prompts played after
  their sentence, so the set is finite: 1..MAX_NUMBER per language;
- a caller whose language has no text hears Polish (the center's default language);
- texts name the portal and 112 the way the IVR script does.
"""

from __future__ import annotations

from ivr.commands import PromptRef

DEFAULT_LANGUAGE = "pl"
VOICES = {"pl": "zlw/pl", "en": "gmw/en-us", "uk": "zle/uk"}
MAX_NUMBER = 99  # positions and minutes above this are said as "more than 99"

TEXTS: dict[str, dict[str, str]] = {
    "pl": {
        "position": "Twoje miejsce w kolejce:",
        "wait": "Przewidywany czas oczekiwania w minutach:",
        "callback_offer": "Jeśli wolisz, oddzwonimy do ciebie. Naciśnij jeden, aby zamówić "
                          "oddzwonienie, albo pozostań na linii.",
        "callback_ok": "Dziękujemy. Oddzwonimy najszybciej, jak to możliwe. Do usłyszenia.",
        "callback_need_number": "Twój numer jest zastrzeżony. Wpisz numer telefonu, pod który "
                                "mamy oddzwonić, i zakończ krzyżykiem. Gwiazdka, aby zostać "
                                "w kolejce.",
        "callback_bad_number": "To nie jest poprawny numer telefonu.",
        "callback_stay": "Zostajesz w kolejce.",
        "full": "Wszyscy konsultanci są teraz zajęci, a kolejka jest pełna. Prosimy zadzwonić "
                "za kilka minut lub zgłosić sprawę na portalu dziewiętnaście sto piętnaście.",
        "no_agents": "W tej chwili nie ma dostępnego konsultanta. Prosimy zadzwonić później "
                     "lub zgłosić sprawę na portalu dziewiętnaście sto piętnaście.",
        "more_than": "ponad dziewięćdziesiąt dziewięć",
    },
    "en": {
        "position": "Your place in the queue:",
        "wait": "Estimated waiting time in minutes:",
        "callback_offer": "If you prefer, we will call you back. Press one to ask for a call "
                          "back, or stay on the line.",
        "callback_ok": "Thank you. We will call you back as soon as we can. Goodbye.",
        "callback_need_number": "Your number is withheld. Enter the phone number we should "
                                "call back, followed by the hash key. Press star to stay in "
                                "the queue.",
        "callback_bad_number": "That is not a valid phone number.",
        "callback_stay": "You are staying in the queue.",
        "full": "All consultants are busy and the queue is full. Please call again in a few "
                "minutes or report the matter on the 19115 portal.",
        "no_agents": "No consultant is available right now. Please call later or report the "
                     "matter on the 19115 portal.",
        "more_than": "more than ninety-nine",
    },
    "uk": {
        "position": "Ваше місце в черзі:",
        "wait": "Орієнтовний час очікування у хвилинах:",
        "callback_offer": "Якщо бажаєте, ми вам передзвонимо. Натисніть один, щоб замовити "
                          "зворотний дзвінок, або залишайтеся на лінії.",
        "callback_ok": "Дякуємо. Ми передзвонимо якнайшвидше. До побачення.",
        "callback_need_number": "Ваш номер приховано. Введіть номер телефону, на який нам "
                                "передзвонити, і натисніть решітку. Зірочка, щоб залишитися "
                                "в черзі.",
        "callback_bad_number": "Це неправильний номер телефону.",
        "callback_stay": "Ви залишаєтеся в черзі.",
        "full": "Усі консультанти зайняті, а черга заповнена. Будь ласка, зателефонуйте за "
                "кілька хвилин або повідомте про проблему на порталі 19115.",
        "no_agents": "Зараз немає вільного консультанта. Будь ласка, зателефонуйте пізніше "
                     "або повідомте про проблему на порталі 19115.",
        "more_than": "понад дев'яносто дев'ять",
    },
}


def language_of(language: str) -> str:
    return language if language in TEXTS else DEFAULT_LANGUAGE


def sentence(key: str, language: str) -> PromptRef:
    lang = language_of(language)
    return PromptRef(f"acd.{key}.{lang}", TEXTS[lang][key], lang, VOICES[lang])


def number(value: int, language: str) -> PromptRef:
    lang = language_of(language)
    if value > MAX_NUMBER:
        return sentence("more_than", lang)
    return PromptRef(f"acd.number.{value}.{lang}", str(value), lang, VOICES[lang])


def with_number(key: str, value: int, language: str) -> list[PromptRef]:
    """A sentence followed by its number ("Your place in the queue:" "3")."""
    return [sentence(key, language), number(max(1, value), language)]


def all_refs() -> list[PromptRef]:
    """Every prompt of the queue, in every language (rendered at start-up)."""
    refs = [sentence(key, lang) for lang, texts in TEXTS.items() for key in texts]
    refs += [number(n, lang) for lang in TEXTS for n in range(1, MAX_NUMBER + 1)]
    return refs
