"""Polish first, English switchable. Keys are short English phrases; a missing translation
falls back to Polish, then to the key, so a page never breaks over a missing string."""

from __future__ import annotations

import re

from crm_core.status_names import STATUS_NAMES

LANGUAGES = ("pl", "en")

TEXT: dict[str, dict[str, str]] = {
    "site": {"pl": "Warszawa 19115 — zgłoszenia mieszkańców", "en": "Warsaw 19115 — residents' reports"},
    "skip": {"pl": "Przejdź do treści", "en": "Skip to content"},
    "home": {"pl": "Start", "en": "Home"},
    "report": {"pl": "Zgłoś problem", "en": "Report a problem"},
    "track": {"pl": "Sprawdź zgłoszenie", "en": "Check a report"},
    "kb": {"pl": "Baza wiedzy", "en": "Knowledge base"},
    "call": {"pl": "Zadzwoń z przeglądarki", "en": "Call from your browser"},
    "lang_switch": {"pl": "English", "en": "Polski"},
    "intro": {
        "pl": "Zgłoś dziurę w jezdni, dzikie wysypisko, bezdomne zwierzę i inne sprawy miejskie — "
              "przez internet, bez dzwonienia. Możesz też zadzwonić pod 19115.",
        "en": "Report a pothole, an illegal dump, a stray animal and other city matters online, "
              "without calling. You can also call 19115.",
    },
    "category": {"pl": "Kategoria", "en": "Category"},
    "choose": {"pl": "— wybierz —", "en": "— choose —"},
    "district": {"pl": "Dzielnica", "en": "District"},
    "address": {"pl": "Adres (ulica i numer)", "en": "Address (street and number)"},
    "location_details": {"pl": "Bliższe określenie miejsca", "en": "More about the place"},
    "map_point": {"pl": "Punkt na mapie (opcjonalnie)", "en": "Point on the map (optional)"},
    "map_of_place": {"pl": "Miejsce zgłoszenia na mapie", "en": "The reported place on the map"},
    "map_help": {
        "pl": "Kliknij na mapie dzielnic Warszawy albo wpisz współrzędne. Strzałki przesuwają punkt.",
        "en": "Click the map of Warsaw's districts or type the coordinates. Arrow keys move the point.",
    },
    "lat": {"pl": "Szerokość geograficzna", "en": "Latitude"},
    "lon": {"pl": "Długość geograficzna", "en": "Longitude"},
    "my_location": {"pl": "Użyj mojej lokalizacji", "en": "Use my location"},
    "description": {"pl": "Opis problemu", "en": "Description of the problem"},
    "public_note": {
        "pl": "Opis, miejsce i zdjęcie będą widoczne publicznie (otwarte dane Open311) — "
              "nie wpisuj tu swoich danych osobowych. Dane kontaktowe podaj niżej; nie są publikowane.",
        "en": "The description, place and photo will be public (Open311 open data) — do not put "
              "personal details here. Give contact details below; they are never published.",
    },
    "photo": {"pl": "Zdjęcie (JPEG, PNG lub WebP, do 5 MB)", "en": "Photo (JPEG, PNG or WebP, up to 5 MB)"},
    "contact": {"pl": "Dane kontaktowe", "en": "Contact details"},
    "contact_help": {
        "pl": "Niewymagane, chyba że kategoria tego wymaga (skargi, prośby o informację). "
              "Twoich danych nie zobaczy nikt poza pracownikami 19115.",
        "en": "Optional unless the category needs them (complaints, requests for information). "
              "Only 19115 staff will see your details.",
    },
    "name": {"pl": "Imię i nazwisko", "en": "Name"},
    "email": {"pl": "E-mail", "en": "E-mail"},
    "phone": {"pl": "Telefon", "en": "Phone"},
    "anonymous": {"pl": "Zgłaszam anonimowo", "en": "Report anonymously"},
    "notify_by": {"pl": "Informuj mnie o postępach zgłoszenia", "en": "Tell me how my report progresses"},
    "notify_none": {"pl": "nie informuj mnie", "en": "do not tell me"},
    "notify_email": {"pl": "e-mailem", "en": "by e-mail"},
    "notify_sms": {"pl": "SMS-em", "en": "by SMS"},
    "notify_phone": {"pl": "telefonem z 19115", "en": "by a phone call from 19115"},
    "notify_help": {
        "pl": "Napiszemy lub zadzwonimy (między 8:00 a 21:00), gdy jednostka miasta przyjmie "
              "zgłoszenie, załatwi je lub odrzuci, albo zapyta o szczegóły.",
        "en": "We will write or call (between 8:00 and 21:00) when the city unit accepts, "
              "resolves or rejects your report, or asks for details.",
    },
    "send": {"pl": "Wyślij zgłoszenie", "en": "Send the report"},
    "required": {"pl": "wymagane", "en": "required"},
    "errors_title": {"pl": "Popraw zaznaczone pola", "en": "Please correct the marked fields"},
    "registered": {"pl": "Zgłoszenie przyjęte", "en": "Report received"},
    "your_number": {"pl": "Numer zgłoszenia", "en": "Report number"},
    "keep_link": {
        "pl": "Zachowaj ten prywatny link — tylko z nim (albo z numerem i kodem) sprawdzisz status:",
        "en": "Keep this private link — only with it (or the number and the code) can you check the status:",
    },
    "secret": {"pl": "Kod zgłoszenia", "en": "Report code"},
    "check": {"pl": "Sprawdź", "en": "Check"},
    "not_found": {
        "pl": "Nie znaleziono zgłoszenia o tym numerze i kodzie.",
        "en": "No report with this number and code was found.",
    },
    "status": {"pl": "Status", "en": "Status"},
    "history": {"pl": "Historia", "en": "History"},
    "when": {"pl": "Kiedy", "en": "When"},
    "note": {"pl": "Uwagi", "en": "Notes"},
    "agency": {"pl": "Jednostka", "en": "Department"},
    "expected_by": {"pl": "Termin załatwienia", "en": "Expected by"},
    "answer": {"pl": "Odpowiedź", "en": "Answer"},
    "question": {"pl": "Pytanie jednostki do Ciebie", "en": "The department's question for you"},
    "your_answer": {"pl": "Twoja odpowiedź", "en": "Your answer"},
    "your_answer_help": {
        "pl": "Odpowiedź trafi do jednostki, która prowadzi zgłoszenie; nie jest publikowana.",
        "en": "Your answer goes to the department handling the report; it is not published.",
    },
    "send_answer": {"pl": "Wyślij odpowiedź", "en": "Send the answer"},
    "answer_sent": {
        "pl": "Dziękujemy — odpowiedź została przekazana jednostce.",
        "en": "Thank you — your answer has been passed to the department.",
    },
    "e_answer_empty": {"pl": "Wpisz odpowiedź.", "en": "Type your answer."},
    "e_answer_long": {"pl": "Odpowiedź jest za długa (do 2000 znaków).",
                      "en": "The answer is too long (up to 2000 characters)."},
    "e_no_question": {
        "pl": "Na to zgłoszenie nie czeka żadne pytanie — odpowiedź mogła już zostać wysłana.",
        "en": "No question is waiting on this report — your answer may have been sent already.",
    },
    "place": {"pl": "Miejsce", "en": "Place"},
    "photos": {"pl": "Zdjęcia", "en": "Photos"},
    "report_photo": {"pl": "Zdjęcie dołączone do zgłoszenia", "en": "Photo attached to the report"},
    "search": {"pl": "Szukaj", "en": "Search"},
    "kb_query": {"pl": "Czego szukasz?", "en": "What are you looking for?"},
    "no_results": {"pl": "Nic nie znaleziono.", "en": "Nothing found."},
    "call_intro": {
        "pl": "Połączenie głosowe z 19115 przez przeglądarkę, bez wtyczek. Potrzebny mikrofon.",
        "en": "A voice call to 19115 in your browser, no plugin. You need a microphone.",
    },
    "call_start": {"pl": "Zadzwoń do 19115", "en": "Call 19115"},
    "call_end": {"pl": "Rozłącz", "en": "Hang up"},
    "call_idle": {"pl": "Gotowe do połączenia.", "en": "Ready to call."},
    "keypad": {"pl": "Klawiatura tonowa", "en": "Keypad"},
    "error": {"pl": "Błąd", "en": "Error"},
    "too_many": {
        "pl": "Zbyt wiele prób. Spróbuj ponownie za chwilę.",
        "en": "Too many attempts. Try again shortly.",
    },
    "bad_form": {
        "pl": "Formularz wygasł lub pochodzi z innej strony. Odśwież stronę i spróbuj ponownie.",
        "en": "The form expired or came from another site. Reload the page and try again.",
    },
    "page_missing": {"pl": "Nie ma takiej strony.", "en": "No such page."},
    "server_error": {
        "pl": "Coś poszło nie tak. Spróbuj ponownie później.",
        "en": "Something went wrong. Try again later.",
    },
    # statuses
    # field errors
    "e_required": {"pl": "To pole jest wymagane.", "en": "This field is required."},
    "e_contact": {
        "pl": "Ta kategoria wymaga e-maila lub telefonu, abyśmy mogli odpowiedzieć.",
        "en": "This category needs an e-mail or a phone so that we can answer.",
    },
}
# Case statuses: the CRM's one table (the desk reads the same words).
TEXT.update({f"st_{status}": names for status, names in STATUS_NAMES.items()})


def translate(key: str, lang: str) -> str:
    entry = TEXT.get(key)
    if entry is None:
        return key
    return entry.get(lang) or entry["pl"]


# Parser messages (English, shared with the API) → Polish, by exact text or by prefix.
_POLISH_EXACT = {
    "unknown category": "Wybierz kategorię z listy.",
    "give an address, a point on the map or a description of the place":
        "Podaj adres, punkt na mapie albo opis miejsca.",
    "not an e-mail address": "To nie jest adres e-mail.",
    "not a phone number": "To nie jest numer telefonu.",
    "give your e-mail address to be told by e-mail": "Podaj adres e-mail, aby dostawać wiadomości e-mailem.",
    "give your phone number to be told by SMS": "Podaj numer telefonu, aby dostawać SMS-y.",
    "give your phone number to be called": "Podaj numer telefonu, pod który mamy zadzwonić.",
    "choose how to be told": "Wybierz sposób powiadamiania z listy.",
    "only JPEG, PNG or WebP photos are accepted": "Przyjmujemy tylko zdjęcia JPEG, PNG lub WebP.",
    "give both latitude and longitude, or neither": "Podaj obie współrzędne albo żadnej.",
    "control characters are not allowed": "Tekst zawiera niedozwolone znaki sterujące.",
}
_POLISH_PREFIX = (
    ("expected a number", "Wpisz liczbę, np. 52.2297."),
    ("expected ", "Punkt musi leżeć w granicach Warszawy."),
    ("unknown Warsaw district", "Wybierz dzielnicę z listy."),
    ("at most", "Tekst jest za długi."),
)
# Messages with numbers in them, worded whole in the page's language (never half English).
_TOO_LONG = re.compile(r"^at most (\d+) characters \(got (\d+)\)$")
_TOO_LARGE = re.compile(r"^too large: at most (\d+) MB$")


def _with_numbers(message: str, lang: str) -> str | None:
    if found := _TOO_LONG.match(message):
        limit, got = found.groups()
        if lang == "pl":
            return f"Tekst jest za długi: najwyżej {limit} znaków (wpisano {got})."
        return f"The text is too long: at most {limit} characters (you entered {got})."
    if found := _TOO_LARGE.match(message):
        size = found.group(1)
        if lang == "pl":
            return f"Zdjęcie jest za duże: najwyżej {size} MB. Wybierz mniejsze albo wyślij bez zdjęcia."
        return f"The photo is too large: at most {size} MB. Choose a smaller one or send without it."
    return None


def field_message(message: str, lang: str) -> str:
    """Field errors from the parsers are English phrases; Polish pages show them in Polish."""
    if message == "required":
        return translate("e_required", lang)
    if message == "contact required":
        return translate("e_contact", lang)
    worded = _with_numbers(message, lang)
    if worded is not None:
        return worded
    if lang != "pl":
        return message[:1].upper() + message[1:] + "."
    if message in _POLISH_EXACT:
        return _POLISH_EXACT[message]
    for prefix, polish in _POLISH_PREFIX:
        if message.startswith(prefix):
            return polish
    return message
