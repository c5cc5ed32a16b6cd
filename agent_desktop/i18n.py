"""UI text, Polish first, English switchable (cookie `ckm_lang`).

One table for the templates and the JS modules (the page hands the JS its language's strings
as a JSON block, so no string is built in two places).
"""

from __future__ import annotations

from portal.i18n import TEXT as PORTAL_TEXT

LANGS = ("pl", "en")

TEXT: dict[str, tuple[str, str]] = {
    # key: (pl, en)
    "app": ("Centrum Kontaktu 19115", "19115 Contact Center"),
    "login": ("Zaloguj", "Log in"),
    "logout": ("Wyloguj", "Log out"),
    "username": ("Login", "Username"),
    "password": ("Hasło", "Password"),
    "login_failed": ("Nieprawidłowy login lub hasło.", "Wrong username or password."),
    "lang_switch": ("English", "Polski"),
    "desk": ("Stanowisko konsultanta", "Consultant desk"),
    "wallboard": ("Tablica kierownika", "Supervisor wallboard"),
    "ivr": ("Edytor IVR", "IVR editor"),
    # softphone
    "phone": ("Telefon", "Phone"),
    "phone_login": ("Zaloguj telefon", "Log in phone"),
    "phone_logout": ("Wyloguj telefon", "Log out phone"),
    "mic": ("Mikrofon", "Microphone"),
    "sip_state": ("SIP", "SIP"),
    "media_state": ("Dźwięk", "Media"),
    "packets_in": ("pakiety przych.", "packets in"),
    "answer": ("Odbierz", "Answer"),
    "decline": ("Odrzuć", "Decline"),
    "hold": ("Zawieś", "Hold"),
    "unhold": ("Wznów", "Resume"),
    "hangup": ("Rozłącz", "Hang up"),
    "transfer": ("Przełącz", "Transfer"),
    "transfer_queue": ("do kolejki", "to queue"),
    "transfer_agent": ("do konsultanta", "to agent"),
    "transfer_external": ("na numer", "to number"),
    "target": ("Cel", "Target"),
    "attended": ("z konsultacją", "attended"),
    "consulting": ("Konsultacja w toku", "Consultation in progress"),
    "complete_transfer": ("Dokończ przełączenie", "Complete transfer"),
    "cancel_transfer": ("Wróć do rozmówcy", "Back to the caller"),
    # agent state
    "state": ("Status", "State"),
    "agent_login": ("Zaloguj do kolejek", "Join queues"),
    "available": ("Gotowy", "Ready"),
    "pause": ("Przerwa", "Pause"),
    "offline": ("Wyloguj z kolejek", "Leave queues"),
    "reason": ("Powód", "Reason"),
    "state_offline": ("niezalogowany", "logged out"),
    "state_available": ("gotowy", "ready"),
    "state_reserved": ("dzwoni", "ringing"),
    "state_on_call": ("rozmowa", "on a call"),
    "state_wrap_up": ("po rozmowie", "wrap-up"),
    "state_paused": ("przerwa", "paused"),
    # screen-pop
    "screen_pop": ("Dzwoniący", "Caller"),
    "no_call": ("Brak połączenia", "No call"),
    "caller": ("Dzwoniący", "Caller"),
    "number": ("Numer", "Number"),
    "queue": ("Kolejka", "Queue"),
    "ivr_path": ("Ścieżka IVR", "IVR path"),
    "category": ("Kategoria", "Category"),
    "transcript": ("Transkrypcja", "Transcript"),
    "history": ("Historia kontaktów", "Contact history"),
    "open_cases": ("Otwarte zgłoszenia", "Open cases"),
    "ringing": ("Dzwoni…", "Ringing…"),
    "connected": ("Rozmowa", "Connected"),
    "held": ("Zawieszona", "On hold"),
    "unknown_caller": ("Nieznany numer", "Unknown number"),
    # case form
    "case": ("Nowe zgłoszenie", "New case"),
    "subcategory": ("Podkategoria", "Subcategory"),
    "department": ("Jednostka", "Department"),
    "address": ("Adres", "Address"),
    "district": ("Dzielnica", "District"),
    "lat": ("Szer. geogr.", "Latitude"),
    "lon": ("Dł. geogr.", "Longitude"),
    "description": ("Opis", "Description"),
    "priority": ("Priorytet", "Priority"),
    "save_case": ("Zapisz zgłoszenie", "Save case"),
    "nearby": ("Otwarte zgłoszenia w pobliżu", "Open cases nearby"),
    "link_duplicate": ("Dopisz jako duplikat", "Link as duplicate"),
    "case_saved": ("Zapisano zgłoszenie", "Case saved"),
    "routed_to": ("Trafi do", "Goes to"),
    # why an agent is where they are (the ACD's reasons, worded for people)
    "reason_pending": ("przerwa po rozmowie", "pause after the call"),
    "reason_forced_by": ("wymusił(a)", "forced by"),
    "reason_autopause": ("nieodebrane połączenia", "unanswered offers"),
    # finding a case and moving it on
    "find_case": ("Sprawdź zgłoszenie", "Find a case"),
    "case_number": ("Numer zgłoszenia", "Case number"),
    "find": ("Pokaż", "Show"),
    "status": ("Status", "Status"),
    "status_history": ("Historia statusu", "Status history"),
    "change_status": ("Zmień status", "Change status"),
    "new_status": ("Nowy status", "New status"),
    "status_changed": ("Zmieniono status", "Status changed"),
    "final_status": ("Status końcowy — bez dalszych zmian", "Final status — no further changes"),
    "reported": ("Zgłoszono", "Reported"),
    "channel": ("Kanał", "Channel"),
    "channel_phone": ("telefon", "phone"),
    "channel_portal": ("portal", "portal"),
    "channel_app": ("aplikacja mobilna", "mobile app"),
    "channel_email": ("e-mail", "e-mail"),
    # KB, wrap-up, callbacks
    "kb": ("Baza wiedzy", "Knowledge base"),
    "search": ("Szukaj", "Search"),
    "wrapup": ("Zakończenie rozmowy", "Wrap-up"),
    "disposition": ("Wynik rozmowy", "Disposition"),
    "notes": ("Notatki", "Notes"),
    "finish_wrapup": ("Zakończ obsługę", "Finish wrap-up"),
    "callbacks": ("Oddzwonienia", "Callbacks"),
    "schedule_callback": ("Umów oddzwonienie", "Schedule callback"),
    "name": ("Imię i nazwisko", "Name"),
    "none": ("brak", "none"),
    "shortcuts": ("Skróty klawiszowe", "Keyboard shortcuts"),
    # wallboard
    "waiting": ("Czeka", "Waiting"),
    "longest_wait": ("Najdłużej", "Longest wait"),
    "service_level": ("Poziom obsługi", "Service level"),
    "asa": ("Śr. czas odbioru", "ASA"),
    "abandoned": ("Porzucone", "Abandoned"),
    "agents": ("Konsultanci", "Agents"),
    "agent": ("Konsultant", "Agent"),
    "in_state": ("W stanie", "In state"),
    "today": ("Dziś: połączenia na 15 min i poziom obsługi", "Today: calls per 15 min and service level"),
    "alarms": ("Alarmy", "Alarms"),
    "listen": ("Odsłuch", "Listen"),
    "whisper": ("Podpowiedź", "Whisper"),
    "barge": ("Włącz się", "Barge"),
    "force_pause": ("Wymuś przerwę", "Force pause"),
    "force_logout": ("Wyloguj z kolejek", "Log out of queues"),
    "live": ("na żywo", "live"),
    "disconnected": ("rozłączono — ponawiam", "disconnected — retrying"),
    "alarm_sl": ("poziom obsługi poniżej celu", "service level below target"),
    "alarm_wait": ("czekający dłużej niż próg", "caller waiting past the threshold"),
    "alarm_noagents": ("czekają, brak wolnych konsultantów", "callers waiting, no agent free"),
    # IVR editor
    "scripts": ("Scenariusze", "Scripts"),
    "versions": ("Wersje", "Versions"),
    "file": ("plik", "file"),
    "show": ("pokaż", "show"),
    "published": ("opublikowana", "published"),
    "validate_ok": ("Scenariusz poprawny", "Script is valid"),
    "problems": ("Błędy", "Problems"),
    "line": ("linia", "line"),
    "graph": ("Graf menu", "Menu graph"),
    "simulator": ("Symulator", "Simulator"),
    "sim_input": ("Klawisze lub say:tekst", "Keys or say:text"),
    "send": ("Wyślij", "Send"),
    "reset": ("Od nowa", "Restart"),
    "diff": ("Różnice względem opublikowanej", "Diff against published"),
    "publish": ("Opublikuj", "Publish"),
    "rollback": ("Przywróć tę wersję", "Roll back to this version"),
    "comment": ("Komentarz", "Comment"),
    "no_diff": ("Brak różnic", "No differences"),
    "published_ok": ("Opublikowano wersję", "Published version"),
}


# Case statuses read the same on the desk as on the residents' tracking page.
TEXT.update({key: (entry["pl"], entry["en"]) for key, entry in PORTAL_TEXT.items()
             if key.startswith("st_")})


def strings(lang: str) -> dict[str, str]:
    index = 1 if lang == "en" else 0
    return {key: pair[index] for key, pair in TEXT.items()}


def pick(lang: str | None) -> str:
    return lang if lang in LANGS else "pl"
