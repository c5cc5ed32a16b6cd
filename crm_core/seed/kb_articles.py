"""Knowledge-base articles in Polish about city services, written for this project as guidance
for consultants (general rules, not legal texts). (slug, title, tags, body)."""

from __future__ import annotations

ARTICLES: list[tuple[str, str, tuple[str, ...], str]] = [
    # --- odpady
    ("odpady-harmonogram", "Harmonogram odbioru odpadów komunalnych",
     ("odpady", "śmieci", "harmonogram", "wywóz"),
     "Odpady z domów jednorodzinnych i budynków wielolokalowych są odbierane według "
     "harmonogramu ustalonego dla każdej nieruchomości. Mieszkaniec sprawdzi go w serwisie "
     "miejskim po wpisaniu adresu albo u zarządcy budynku. Jeśli śmieci nie zostały odebrane "
     "w wyznaczonym dniu, przyjmujemy zgłoszenie w kategorii „Nieodebrane odpady z posesji” "
     "i podajemy adres, rodzaj odpadów oraz datę, której dotyczy harmonogram."),
    ("odpady-segregacja", "Segregacja śmieci: pięć frakcji",
     ("odpady", "śmieci", "segregacja", "pojemniki"),
     "W Warszawie odpady segreguje się na pięć frakcji: papier (niebieski pojemnik), metale i "
     "tworzywa sztuczne (żółty), szkło (zielony), odpady bio (brązowy) oraz odpady zmieszane "
     "(czarny). Konsultant może podpowiedzieć, do którego pojemnika trafia dana rzecz; przy "
     "wątpliwościach kierujemy do wyszukiwarki segregacji w serwisie miejskim."),
    ("odpady-wielkogabarytowe", "Odbiór mebli i odpadów wielkogabarytowych",
     ("odpady", "gabaryty", "meble", "wywóz"),
     "Meble, materace i inne duże przedmioty wystawia się przy altanie śmietnikowej w dniu "
     "odbioru gabarytów wskazanym w harmonogramie nieruchomości, nie wcześniej niż wieczorem "
     "dnia poprzedniego. Gabaryty wystawione poza terminem lub w przypadkowym miejscu "
     "traktujemy jak dzikie wysypisko. Większe ilości można samodzielnie oddać do punktu "
     "selektywnego zbierania odpadów (PSZOK)."),
    ("odpady-pszok", "Punkty selektywnego zbierania odpadów (PSZOK)",
     ("odpady", "pszok", "elektroodpady", "gruz"),
     "Do PSZOK mieszkańcy bezpłatnie oddają m.in. elektroodpady, baterie, farby, opony, "
     "gruz z drobnych remontów i odpady wielkogabarytowe. Trzeba mieć przy sobie dokument "
     "potwierdzający, że nieruchomość jest objęta miejskim systemem odbioru odpadów. Adresy "
     "i godziny otwarcia punktów podajemy z serwisu miejskiego."),
    ("odpady-dzikie-wysypisko", "Dzikie wysypisko śmieci – jak przyjąć zgłoszenie",
     ("odpady", "śmieci", "wysypisko", "śmietnik", "straż miejska"),
     "Dzikie wysypisko to odpady porzucone poza miejscem do tego przeznaczonym: w lesie, na "
     "skwerze, przy drodze albo obok śmietnika. Ustal dokładne miejsce (adres lub punkt na "
     "mapie), rodzaj i przybliżoną ilość odpadów oraz to, czy ktoś widział sprawcę. Zgłoszenie "
     "trafia do Biura Gospodarki Odpadami; jeśli sprawca jest znany, także do Straży Miejskiej."),
    ("odpady-altana", "Przepełniona altana śmietnikowa przy budynku",
     ("odpady", "śmieci", "śmietnik", "altana", "pojemniki"),
     "Za porządek w altanie śmietnikowej i liczbę pojemników odpowiada zarządca nieruchomości "
     "(spółdzielnia, wspólnota, ZGN). Gdy śmietnik jest przepełniony mimo odbioru zgodnego z "
     "harmonogramem, radzimy najpierw zgłosić to zarządcy. Jeżeli odbiór się nie odbył, "
     "przyjmujemy zgłoszenie o nieodebranych odpadach."),
    ("odpady-kosze-uliczne", "Przepełnione kosze uliczne",
     ("odpady", "śmieci", "kosz", "ulica"),
     "Kosze na ulicach i przystankach opróżnia jednostka odpowiedzialna za daną drogę lub "
     "teren: na drogach lokalnych urząd dzielnicy, na głównych ulicach Zarząd Oczyszczania. "
     "W zgłoszeniu podaj najbliższy adres lub nazwę przystanku i opisz, czy odpady wysypują "
     "się na chodnik."),
    ("odpady-bio-choinki", "Odbiór choinek po świętach",
     ("odpady", "choinki", "bio", "zima"),
     "Naturalne choinki bez ozdób i stojaków są odbierane w styczniu i lutym razem z odpadami "
     "bio lub w dodatkowych terminach podanych w harmonogramie. Drzewko kładziemy obok altany "
     "śmietnikowej, nie wrzucamy go do pojemnika."),
    ("odpady-oplata", "Opłata za gospodarowanie odpadami",
     ("odpady", "opłata", "deklaracja", "podatki"),
     "Opłatę za odpady ustala się w deklaracji składanej przez właściciela nieruchomości; w "
     "budynkach wielolokalowych rozlicza ją zarządca. Konsultant nie zmienia deklaracji ani "
     "nie sprawdza zaległości – kierujemy do formularza w serwisie miejskim lub do urzędu."),
    ("odpady-azbest", "Azbest i odpady niebezpieczne",
     ("odpady", "azbest", "niebezpieczne", "chemikalia"),
     "Płyt azbestowych nie wolno samodzielnie rozbijać ani wyrzucać do pojemników. Miasto "
     "prowadzi program dofinansowania usuwania azbestu; wniosek składa właściciel "
     "nieruchomości. Porzucone beczki, chemikalia lub azbest zgłaszamy jako dzikie wysypisko z "
     "priorytetem pilnym i informacją, czy coś wycieka."),
    # --- komunikacja
    ("ztm-opoznienia", "Opóźnienia i wypadnięte kursy autobusów i tramwajów",
     ("komunikacja", "ztm", "autobus", "tramwaj", "opóźnienie"),
     "Opóźnienia zgłaszamy do Zarządu Transportu Miejskiego z numerem linii, przystankiem, "
     "kierunkiem i godziną planowanego odjazdu. Informacje o aktualnych utrudnieniach i "
     "objazdach podajemy z komunikatów ZTM. Zgłoszenie pomaga przewoźnikowi wyjaśnić, czy kurs "
     "w ogóle się odbył."),
    ("ztm-bilety", "Bilety komunikacji miejskiej i strefy",
     ("komunikacja", "bilety", "ztm", "strefy"),
     "Bilety kupuje się w biletomatach, kasach ZTM, aplikacjach mobilnych oraz w pojazdach "
     "wyposażonych w automat. Warszawa ma dwie strefy biletowe; bilety czasowe obowiązują na "
     "wszystkie środki transportu w danej strefie. Pytania o ulgi i zwroty kierujemy do "
     "punktów obsługi pasażerów ZTM."),
    ("ztm-biletomat", "Niedziałający biletomat",
     ("komunikacja", "biletomat", "bilety", "awaria"),
     "W zgłoszeniu podajemy lokalizację lub numer biletomatu (naklejka na obudowie), opis "
     "usterki (nie przyjmuje kart, nie wydaje biletu, ekran wyłączony) i czas zdarzenia. Gdy "
     "automat pobrał pieniądze, a nie wydał biletu, mieszkaniec składa reklamację do ZTM."),
    ("ztm-przystanek", "Uszkodzony przystanek lub wiata",
     ("komunikacja", "przystanek", "wiata", "rozkład"),
     "Zbite szyby w wiatach, brak rozkładu jazdy, niedziałającą tablicę z czasem odjazdu "
     "przekazujemy do ZTM. Gdy szkło leży na chodniku i zagraża pieszym, oznaczamy zgłoszenie "
     "jako pilne. Podajemy nazwę i numer słupka przystanku."),
    ("ztm-rzeczy-znalezione", "Rzeczy zgubione w pojeździe",
     ("komunikacja", "zguby", "biuro rzeczy znalezionych"),
     "Przedmioty znalezione w autobusach, tramwajach i metrze trafiają najpierw do "
     "przewoźnika, a po kilku dniach do miejskiego biura rzeczy znalezionych. Ustal linię, "
     "godzinę i opis przedmiotu i przekaż numer kontaktowy przewoźnika."),
    ("ztm-klimatyzacja", "Temperatura i czystość w pojazdach",
     ("komunikacja", "pojazd", "klimatyzacja", "ogrzewanie"),
     "Brak ogrzewania lub klimatyzacji, brudny pojazd czy uszkodzone siedzenia zgłaszamy z "
     "numerem bocznym pojazdu (widoczny z przodu i wewnątrz), linią i godziną. Bez numeru "
     "bocznego przewoźnik zwykle nie ustali, który pojazd był niesprawny."),
    ("ztm-metro", "Utrudnienia w metrze",
     ("komunikacja", "metro", "winda", "schody ruchome"),
     "Niedziałające windy i schody ruchome na stacjach metra zgłaszamy z nazwą stacji i "
     "wyjściem. Osobom z niepełnosprawnością podajemy najbliższą stację z działającą windą."),
    ("ztm-veturilo", "Rower miejski",
     ("komunikacja", "rower", "stacja"),
     "Sprawy kont, opłat i rowerów miejskich obsługuje operator systemu. Porzucony rower "
     "miejski poza stacją możemy zgłosić operatorowi z dokładną lokalizacją."),
    # --- drogi
    ("drogi-dziura", "Dziura w jezdni",
     ("drogi", "dziura", "jezdnia", "zdm"),
     "Ubytek w nawierzchni zgłaszamy z adresem, pasem ruchu i przybliżonym rozmiarem. Głęboka "
     "dziura na ruchliwej ulicy lub przy przejściu dla pieszych ma priorytet pilny. Drogi "
     "główne utrzymuje Zarząd Dróg Miejskich, lokalne – urząd dzielnicy; system przypisuje "
     "jednostkę na podstawie dzielnicy."),
    ("drogi-chodnik", "Uszkodzony chodnik, zapadnięta płyta",
     ("drogi", "chodnik", "krawężnik", "piesi"),
     "Zapadnięte płyty, wystające krawężniki i brakujące kostki zagrażają pieszym, zwłaszcza "
     "osobom starszym i z wózkami. Zgłoszenie zawiera adres, stronę ulicy i opis zagrożenia; "
     "zdjęcie mieszkaniec może dodać w portalu podając numer zgłoszenia."),
    ("drogi-odszkodowanie", "Szkoda na dziurze – odszkodowanie",
     ("drogi", "odszkodowanie", "szkoda", "samochód"),
     "Mieszkaniec, który uszkodził pojazd na dziurze, składa wniosek do zarządcy drogi, na "
     "której doszło do zdarzenia, najlepiej z dokumentacją zdjęciową i notatką policji lub "
     "straży. Centrum 19115 nie rozpatruje roszczeń, ale przyjmuje zgłoszenie samej dziury."),
    ("drogi-sygnalizacja", "Niedziałająca sygnalizacja świetlna",
     ("drogi", "sygnalizacja", "światła", "skrzyżowanie"),
     "Awaria sygnalizacji na skrzyżowaniu to zawsze zgłoszenie pilne. Ustal, czy światła są "
     "wyłączone, migają na żółto, czy któryś sygnalizator jest zgaszony. Przy zagrożeniu życia "
     "kierujemy rozmówcę na numer alarmowy 112."),
    ("drogi-znaki", "Przewrócony lub zasłonięty znak drogowy",
     ("drogi", "znaki", "oznakowanie"),
     "Zgłaszamy znak przewrócony, przekręcony, zasłonięty gałęziami lub nieczytelny. Podajemy "
     "adres i rodzaj znaku. Przewrócony znak „stop” lub „ustąp pierwszeństwa” ma priorytet "
     "pilny."),
    ("drogi-oswietlenie", "Niedziałające latarnie",
     ("drogi", "oświetlenie", "latarnia", "ciemno"),
     "Przy zgłoszeniu zgaszonych latarni podajemy adres oraz numer słupa (tabliczka na "
     "latarni), jeśli mieszkaniec go widzi. Gdy nie świeci cały odcinek ulicy, zaznaczamy to w "
     "opisie – zwykle oznacza to awarię zasilania, a nie żarówki."),
    ("drogi-zima", "Zimowe utrzymanie ulic i chodników",
     ("drogi", "zima", "śnieg", "odśnieżanie", "ślisko"),
     "Jezdnie odśnieżają służby miejskie według kolejności: najpierw trasy komunikacji "
     "miejskiej i główne ulice, potem lokalne. Chodnik wzdłuż posesji odśnieża jej właściciel "
     "lub zarządca. Zgłaszamy nieodśnieżone przejścia, przystanki i oblodzone schody."),
    ("drogi-roboty", "Roboty drogowe i objazdy",
     ("drogi", "remont", "roboty drogowe", "objazd"),
     "Informacje o planowanych remontach i zamknięciach ulic podajemy z komunikatów Zarządu "
     "Dróg Miejskich. Zgłaszamy roboty prowadzone bez oznakowania, pozostawione wykopy i "
     "uszkodzone zabezpieczenia wykopu."),
    ("drogi-rowerowe", "Drogi rowerowe",
     ("drogi", "rower", "ścieżka rowerowa"),
     "Uszkodzenia nawierzchni dróg rowerowych, zniszczone oznakowanie i przeszkody na ścieżce "
     "zgłaszamy tak jak uszkodzenia jezdni, w podkategorii „Drogi rowerowe”."),
    # --- parkowanie
    ("parkowanie-strefa", "Strefa płatnego parkowania",
     ("parkowanie", "spp", "opłaty", "abonament"),
     "Strefa płatnego parkowania obejmuje centralne dzielnice i obowiązuje w dni robocze w "
     "określonych godzinach. Opłatę wnosi się w parkomacie lub aplikacji. Abonament "
     "mieszkańca wydaje zarząd strefy na wniosek; sprawy wezwań do zapłaty opłaty dodatkowej "
     "kierujemy do zarządu strefy."),
    ("parkowanie-nieprawidlowe", "Nieprawidłowo zaparkowany samochód",
     ("parkowanie", "straż miejska", "chodnik", "koperta"),
     "Samochód blokujący przejście, wjazd do posesji, miejsce dla osób z niepełnosprawnością "
     "lub przystanek zgłaszamy do Straży Miejskiej. Potrzebny jest dokładny adres, marka i "
     "kolor pojazdu oraz opis, jak utrudnia ruch. Gdy pojazd blokuje tory tramwajowe, "
     "zgłoszenie jest pilne."),
    ("parkowanie-porzucony", "Porzucony pojazd",
     ("parkowanie", "wrak", "porzucony samochód"),
     "Pojazd bez tablic rejestracyjnych lub w złym stanie technicznym, który długo stoi w "
     "jednym miejscu, może zostać usunięty przez Straż Miejską. Podajemy adres, markę, kolor, "
     "numer rejestracyjny (jeśli jest) i od jak dawna stoi."),
    ("parkowanie-odholowanie", "Odholowany samochód – gdzie go szukać",
     ("parkowanie", "odholowanie", "parking strzeżony"),
     "Jeżeli samochód zniknął z miejsca postoju, najpierw sprawdzamy, czy nie został "
     "odholowany przez Straż Miejską lub policję. Rozmówcy podajemy numer dyżurny straży; gdy "
     "pojazd nie był odholowany, kierujemy do policji w sprawie kradzieży."),
    # --- zwierzęta
    ("zwierzeta-bezdomny-pies", "Bezdomny lub zagubiony pies",
     ("zwierzęta", "pies", "schronisko", "ekopatrol"),
     "Błąkającego się psa odławia Ekopatrol Straży Miejskiej i przewozi do schroniska. Ustal "
     "miejsce, wygląd psa i to, czy jest agresywny. Osoby szukające zagubionego zwierzęcia "
     "kierujemy do schroniska, gdzie można sprawdzić przyjęte psy i koty."),
    ("zwierzeta-ranne", "Ranne zwierzę",
     ("zwierzęta", "ranne", "weterynarz", "ekopatrol"),
     "Ranne zwierzę domowe lub dzikie zgłaszamy jako pilne do Ekopatrolu. Prosimy rozmówcę, "
     "by w miarę możliwości pozostał w pobliżu do przyjazdu patrolu i nie dotykał dzikiego "
     "zwierzęcia gołymi rękami."),
    ("zwierzeta-martwe", "Martwe zwierzę na ulicy lub trawniku",
     ("zwierzęta", "martwe", "padłe", "usunięcie"),
     "Martwe zwierzęta z dróg i terenów publicznych usuwa wyspecjalizowana firma na zlecenie "
     "miasta. Potrzebny jest dokładny adres i rodzaj zwierzęcia. Z posesji prywatnych "
     "zwierzę usuwa właściciel nieruchomości."),
    ("zwierzeta-dziki", "Dziki w mieście",
     ("zwierzęta", "dzik", "dzikie zwierzęta", "lasy miejskie"),
     "Dziki coraz częściej pojawiają się na osiedlach przy lasach. Nie wolno ich dokarmiać ani "
     "podchodzić, zwłaszcza do loch z młodymi. Zgłoszenie dzików na terenie zabudowanym "
     "przekazujemy do Lasów Miejskich; gdy zwierzę jest ranne lub agresywne – jako pilne."),
    ("zwierzeta-koty", "Koty wolno żyjące",
     ("zwierzęta", "koty", "karmiciele", "sterylizacja"),
     "Koty wolno żyjące są pod opieką miasta: karmiciele mogą otrzymać karmę i skierowania na "
     "bezpłatną sterylizację. Chory lub ranny kot to zgłoszenie do Ekopatrolu."),
    ("zwierzeta-ptaki", "Ranne ptaki i gniazda",
     ("zwierzęta", "ptaki", "gniazdo", "jerzyki"),
     "Ranne ptaki przyjmuje ośrodek rehabilitacji dzikich zwierząt. Zgłaszamy też niszczenie "
     "gniazd podczas remontów elewacji w sezonie lęgowym – to sprawa dla Straży Miejskiej."),
    ("zwierzeta-psy-rejestracja", "Czipowanie psów i kotów",
     ("zwierzęta", "czip", "znakowanie"),
     "Miasto finansuje bezpłatne znakowanie psów i kotów mikroczipem w wybranych gabinetach "
     "weterynaryjnych. Zaczipowane zwierzę łatwiej zwrócić właścicielowi, gdy się zgubi."),
    # --- zieleń
    ("zielen-drzewo", "Złamane lub zagrażające drzewo",
     ("zieleń", "drzewo", "gałąź", "burza"),
     "Gałąź lub drzewo leżące na jezdni, chodniku albo linii tramwajowej to zgłoszenie pilne. "
     "Ustal, czy ktoś jest poszkodowany i czy drzewo blokuje przejazd. Drzewa pochylone lub "
     "spróchniałe przekazujemy do oceny Zarządowi Zieleni."),
    ("zielen-wycinka", "Wycinka drzew na posesji",
     ("zieleń", "drzewo", "wycinka", "zezwolenie"),
     "Na usunięcie drzewa z posesji często potrzebne jest zezwolenie lub zgłoszenie w urzędzie "
     "dzielnicy; zależy to od gatunku, obwodu pnia i charakteru działki. Podejrzenie wycinki "
     "bez zezwolenia zgłaszamy do urzędu dzielnicy."),
    ("zielen-koszenie", "Koszenie trawników",
     ("zieleń", "trawa", "koszenie", "łąki kwietne"),
     "Miasto kosi trawniki rzadziej niż dawniej, a część z nich zamienia w łąki kwietne, które "
     "koszone są raz lub dwa razy w roku. Zgłaszamy wysoką trawę, gdy ogranicza widoczność "
     "na skrzyżowaniu lub przejściu."),
    ("zielen-park", "Zniszczenia w parkach i na skwerach",
     ("zieleń", "park", "ławka", "skwer"),
     "Połamane ławki, zniszczone alejki i przepełnione kosze w parkach przekazujemy do "
     "zarządcy terenu zieleni. Podajemy nazwę parku i orientacyjne miejsce, np. przy "
     "wejściu od konkretnej ulicy."),
    ("zielen-plac-zabaw", "Uszkodzony plac zabaw",
     ("zieleń", "plac zabaw", "dzieci", "bezpieczeństwo"),
     "Uszkodzone urządzenie na placu zabaw, które może zranić dziecko, zgłaszamy jako pilne. "
     "Place zabaw na terenach miejskich utrzymują urzędy dzielnic, a na terenach "
     "spółdzielni – zarządcy osiedli."),
    # --- hałas i porządek
    ("halas-cisza-nocna", "Zakłócanie ciszy nocnej",
     ("hałas", "cisza nocna", "impreza", "straż miejska"),
     "Głośne zachowanie w nocy zakłócające spokój zgłaszamy do Straży Miejskiej lub policji. "
     "Przyjmujemy adres, opis źródła hałasu i to, czy trwa w chwili zgłoszenia. Sprawy "
     "powtarzające się od sąsiadów warto zgłaszać także zarządcy budynku."),
    ("halas-budowa", "Hałas z budowy",
     ("hałas", "budowa", "prace budowlane"),
     "Prace budowlane w nocy lub w dni wolne mogą być prowadzone tylko w uzasadnionych "
     "przypadkach. Zgłaszamy adres budowy, godziny i rodzaj prac; sprawa trafia do urzędu "
     "dzielnicy, a przy bieżącym zakłócaniu spokoju – do Straży Miejskiej."),
    ("porzadek-graffiti", "Graffiti i zniszczone elewacje",
     ("porządek", "graffiti", "wandalizm"),
     "Graffiti na obiektach miejskich usuwa zarządca obiektu. Wulgarne lub obraźliwe napisy "
     "usuwamy w pierwszej kolejności. Przy zgłoszeniu podajemy adres i rodzaj obiektu "
     "(wiata, ściana budynku, ekran akustyczny)."),
    # --- pozwolenia i wydarzenia
    ("pozwolenia-zajecie-pasa", "Zajęcie pasa drogowego",
     ("pozwolenia", "pas drogowy", "remont", "kontener"),
     "Postawienie kontenera na jezdni, rusztowania na chodniku czy ogródka kawiarnianego "
     "wymaga zezwolenia zarządcy drogi na zajęcie pasa drogowego. Wniosek składa się z "
     "wyprzedzeniem; kierujemy do zarządcy danej drogi."),
    ("pozwolenia-zgromadzenie", "Zgromadzenia i imprezy w przestrzeni publicznej",
     ("wydarzenia", "zgromadzenie", "impreza masowa", "pozwolenia"),
     "Zgromadzenie publiczne zgłasza się do urzędu miasta z wyprzedzeniem określonym w "
     "przepisach. Imprezy masowe wymagają osobnego zezwolenia. Konsultant przekazuje "
     "informację, gdzie złożyć zgłoszenie, nie ocenia wniosku."),
    ("wydarzenia-kalendarz", "Wydarzenia miejskie i utrudnienia",
     ("wydarzenia", "maraton", "koncert", "utrudnienia"),
     "Podczas biegów ulicznych, koncertów i świąt miejskich zamykane są ulice i zmieniają się "
     "trasy komunikacji. Przed dużym wydarzeniem w bazie pojawia się osobny artykuł z mapą "
     "zamknięć; przy pytaniach rozmówców korzystamy z niego i z komunikatów ZTM."),
    ("pozwolenia-dowod", "Dowód osobisty i sprawy urzędowe",
     ("urząd", "dowód osobisty", "wizyta"),
     "Dowód osobisty i inne sprawy meldunkowe załatwia się w urzędzie dzielnicy; na wizytę "
     "można umówić się przez internet. Konsultant podaje adres i godziny pracy urzędu."),
    ("urzad-godziny", "Godziny pracy urzędów dzielnic",
     ("urząd", "godziny", "dzielnica"),
     "Urzędy dzielnic przyjmują interesantów w dni robocze, w jeden dzień tygodnia dłużej. "
     "Dokładne godziny i adresy podajemy z serwisu miejskiego; w dni wolne przyjmujemy "
     "zgłoszenia przez 19115."),
    ("centrum-status-zgloszenia", "Jak sprawdzić status zgłoszenia",
     ("19115", "status", "zgłoszenie", "portal"),
     "Każde zgłoszenie ma numer w formacie 19115/rok/numer. Status sprawdzi się w portalu "
     "mieszkańca po wpisaniu numeru i kodu śledzenia albo dzwoniąc na 19115. Zgłoszenie "
     "przechodzi przez statusy: nowe, przekazane, w realizacji, zrealizowane, odrzucone lub "
     "zamknięte."),
    ("centrum-jezyki", "Obsługa w innych językach",
     ("19115", "język", "angielski", "ukraiński"),
     "Centrum przyjmuje zgłoszenia po polsku, a w godzinach pracy wybranych konsultantów także "
     "po angielsku i ukraińsku. W menu telefonicznym rozmówca wybiera język; gdy nie ma "
     "dostępnego konsultanta, proponujemy oddzwonienie."),
    ("centrum-dane-osobowe", "Dane osobowe i nagrywanie rozmów",
     ("19115", "rodo", "nagrywanie", "dane osobowe"),
     "Rozmowy z 19115 są nagrywane w celu obsługi zgłoszeń i kontroli jakości, o czym rozmówca "
     "słyszy na początku połączenia. Zgłoszenie można złożyć anonimowo; dane kontaktowe są "
     "potrzebne tylko, gdy mieszkaniec chce otrzymać informację o wyniku."),
]  # fmt: skip
