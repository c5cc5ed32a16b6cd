"""What a notification call says besides the message, in the resident's language.

Rules:
- the menu, the goodbye and "connecting you" are rendered and staged at start-up (`all_refs`);
  the message itself (case number, the department's answer) is rendered in a worker thread
  before the resident is dialled (`message`), so no prompt is rendered on a call's path;
- a language without texts gets Polish (the center's default);
- voices are the queue's (`pbx.queue_prompts.VOICES`): one voice per language in the center.
"""

from __future__ import annotations

from ivr.commands import PromptRef
from pbx.queue_prompts import VOICES

DEFAULT_LANGUAGE = "pl"

TEXTS: dict[str, dict[str, str]] = {
    "pl": {
        "menu": "Aby odsłuchać tę wiadomość ponownie, naciśnij jeden. Aby porozmawiać z "
                "konsultantem, naciśnij zero.",
        "goodbye": "Dziękujemy. Do usłyszenia.",
        "connecting": "Łączymy z konsultantem.",
    },
    "en": {
        "menu": "To hear this message again, press one. To talk to a consultant, press zero.",
        "goodbye": "Thank you. Goodbye.",
        "connecting": "Connecting you to a consultant.",
    },
    "uk": {
        "menu": "Щоб прослухати це повідомлення ще раз, натисніть один. Щоб поговорити з "
                "консультантом, натисніть нуль.",
        "goodbye": "Дякуємо. До побачення.",
        "connecting": "З'єднуємо з консультантом.",
    },
}


def language_of(language: str) -> str:
    return language if language in TEXTS else DEFAULT_LANGUAGE


def sentence(key: str, language: str) -> PromptRef:
    lang = language_of(language)
    return PromptRef(f"notify.{key}.{lang}", TEXTS[lang][key], lang, VOICES[lang])


def message(text: str, language: str) -> PromptRef:
    """The notification's own text, said in the resident's language."""
    lang = language_of(language)
    return PromptRef(f"notify.message.{lang}", text, lang, VOICES[lang])


def all_refs() -> list[PromptRef]:
    return [sentence(key, lang) for lang, texts in TEXTS.items() for key in texts]

