"""The subjects of the Russian Federation and their IANA time zones (all 89 the constitution
lists), with the landline area codes (ABC) that belong to each.

Why a table of our own: phonenumbers knows no region for a +7 9xx mobile (it gives every zone
of Russia and Kazakhstan), and for landlines it names a zone of the same offset that is not the
subject's (Europe/Bucharest, with summer time, for Kaliningrad's 4012), an offset that is no
longer true (Europe/Moscow for Saratov's 845, which moved to UTC+4 in 2016), or one zone for
Yakutia, which has three. The zones are those of the federal law on the calculation of time
(107-FZ as amended) in IANA's names (zone1970.tab): a subject that spans several zones lists them
all, and a callee there is called only when the window is open in every one.

`NATIONWIDE` ("RU") is a registry range serving the whole federation: every zone below.
Codes: ISO 3166-2:RU where it has one; CR, SEV, DON, LUG, ZAP, KHE for the six it lacks.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

NATIONWIDE = "RU"


@dataclass(frozen=True)
class Subject:
    code: str
    name: str  # as the state address register (GAR) spells it, the registry's "Территория ГАР"
    zones: tuple[str, ...]  # every IANA zone in use in the subject, the subject's main one first
    area_codes: tuple[str, ...] = ()  # landline ABC prefixes (of the 10-digit national number)
    aliases: tuple[str, ...] = ()  # other spellings the registry's "Регион" column uses


MSK = ("Europe/Moscow",)

SUBJECTS: tuple[Subject, ...] = (
    # Republics
    Subject("AD", "Республика Адыгея", MSK, ("877",)),
    Subject("AL", "Республика Алтай", ("Asia/Barnaul",), ("388",)),
    Subject("BA", "Республика Башкортостан", ("Asia/Yekaterinburg",), ("347",)),
    Subject("BU", "Республика Бурятия", ("Asia/Irkutsk",), ("301",)),
    Subject("DA", "Республика Дагестан", MSK, ("872",)),
    Subject("DON", "Донецкая Народная Республика", MSK, ("856",), ("Республика Донецкая Народная",)),
    Subject("IN", "Республика Ингушетия", MSK, ("873",)),
    Subject("KB", "Кабардино-Балкарская Республика", MSK, ("866",), ("Республика Кабардино-Балкарская",)),
    Subject("KL", "Республика Калмыкия", MSK, ("847",)),
    Subject("KC", "Карачаево-Черкесская Республика", MSK, ("878",), ("Республика Карачаево-Черкесская",)),
    Subject("KR", "Республика Карелия", MSK, ("814",)),
    Subject("KO", "Республика Коми", MSK, ("821",)),
    Subject("CR", "Республика Крым", ("Europe/Simferopol",), ("365",)),
    Subject("LUG", "Луганская Народная Республика", MSK, ("857",)),
    Subject("ME", "Республика Марий Эл", MSK, ("836",)),
    Subject("MO", "Республика Мордовия", MSK, ("834",)),
    # Sakha (Yakutia): UTC+9 (most of it), +10 (Oymyakonsky, Verkhoyansky, Ust-Yansky),
    # +11 (Srednekolymsky and the north-east). The registry gives only the subject.
    Subject("SA", "Республика Саха (Якутия)", ("Asia/Yakutsk", "Asia/Ust-Nera", "Asia/Srednekolymsk"), ("411",),
            ("Республика Саха /Якутия/",)),
    Subject("SE", "Республика Северная Осетия - Алания", MSK, ("867",)),
    Subject("TA", "Республика Татарстан", MSK, ("843", "855")),
    Subject("TY", "Республика Тыва", ("Asia/Krasnoyarsk",), ("394",)),
    Subject("UD", "Удмуртская Республика", ("Europe/Samara",), ("341",), ("Республика Удмуртская",)),
    Subject("KK", "Республика Хакасия", ("Asia/Krasnoyarsk",), ("390",)),
    Subject("CE", "Чеченская Республика", MSK, ("871",), ("Республика Чеченская",)),
    Subject("CU", "Чувашская Республика - Чувашия", MSK, ("835",), ("Чувашская Республика",)),
    # Krais
    Subject("ALT", "Алтайский край", ("Asia/Barnaul",), ("385",)),
    Subject("ZAB", "Забайкальский край", ("Asia/Chita",), ("302",)),
    Subject("KAM", "Камчатский край", ("Asia/Kamchatka",), ("415",), ("Корякский округ",)),
    Subject("KDA", "Краснодарский край", MSK, ("861", "862")),
    Subject("KYA", "Красноярский край", ("Asia/Krasnoyarsk",), ("391",)),
    Subject("PER", "Пермский край", ("Asia/Yekaterinburg",), ("342",)),
    Subject("PRI", "Приморский край", ("Asia/Vladivostok",), ("423",)),
    Subject("STA", "Ставропольский край", MSK, ("865", "879")),
    Subject("KHA", "Хабаровский край", ("Asia/Vladivostok",), ("421",)),
    # Oblasts
    Subject("AMU", "Амурская область", ("Asia/Yakutsk",), ("416",)),
    Subject("ARK", "Архангельская область", MSK, ("818",)),
    Subject("AST", "Астраханская область", ("Europe/Astrakhan",), ("851",)),
    Subject("BEL", "Белгородская область", MSK, ("472",)),
    Subject("BRY", "Брянская область", MSK, ("483",)),
    Subject("VLA", "Владимирская область", MSK, ("492",)),
    Subject("VGG", "Волгоградская область", ("Europe/Volgograd",), ("844",)),
    Subject("VLG", "Вологодская область", MSK, ("817", "820")),
    Subject("VOR", "Воронежская область", MSK, ("473",)),
    Subject("ZAP", "Запорожская область", MSK),
    Subject("IVA", "Ивановская область", MSK, ("493",)),
    Subject("IRK", "Иркутская область", ("Asia/Irkutsk",), ("395",)),
    Subject("KGD", "Калининградская область", ("Europe/Kaliningrad",), ("401",)),
    Subject("KLU", "Калужская область", MSK, ("484",)),
    Subject("KEM", "Кемеровская область - Кузбасс", ("Asia/Novokuznetsk",), ("384",), ("Кемеровская область",)),
    Subject("KIR", "Кировская область", ("Europe/Kirov",), ("833",)),
    Subject("KOS", "Костромская область", MSK, ("494",)),
    Subject("KGN", "Курганская область", ("Asia/Yekaterinburg",), ("352",)),
    Subject("KRS", "Курская область", MSK, ("471",)),
    Subject("LEN", "Ленинградская область", MSK, ("813",)),
    Subject("LIP", "Липецкая область", MSK, ("474",)),
    Subject("MAG", "Магаданская область", ("Asia/Magadan",), ("413",)),
    Subject("MOS", "Московская область", MSK, ("496", "498")),
    Subject("MUR", "Мурманская область", MSK, ("815",)),
    Subject("NIZ", "Нижегородская область", MSK, ("831",)),
    Subject("NGR", "Новгородская область", MSK, ("816",)),
    Subject("NVS", "Новосибирская область", ("Asia/Novosibirsk",), ("383",)),
    Subject("OMS", "Омская область", ("Asia/Omsk",), ("381",)),
    Subject("ORE", "Оренбургская область", ("Asia/Yekaterinburg",), ("353",)),
    Subject("ORL", "Орловская область", MSK, ("486",)),
    Subject("PNZ", "Пензенская область", MSK, ("841",)),
    Subject("PSK", "Псковская область", MSK, ("811",)),
    Subject("ROS", "Ростовская область", MSK, ("863",)),
    Subject("RYA", "Рязанская область", MSK, ("491",)),
    Subject("SAM", "Самарская область", ("Europe/Samara",), ("846", "848")),
    Subject("SAR", "Саратовская область", ("Europe/Saratov",), ("845",)),
    Subject("SAK", "Сахалинская область", ("Asia/Sakhalin",), ("424",)),
    Subject("SVE", "Свердловская область", ("Asia/Yekaterinburg",), ("343",)),
    Subject("SMO", "Смоленская область", MSK, ("481",)),
    Subject("TAM", "Тамбовская область", MSK, ("475",)),
    Subject("TVE", "Тверская область", MSK, ("482",)),
    Subject("TOM", "Томская область", ("Asia/Tomsk",), ("382",)),
    Subject("TUL", "Тульская область", MSK, ("487",)),
    Subject("TYU", "Тюменская область", ("Asia/Yekaterinburg",), ("345",)),
    Subject("ULY", "Ульяновская область", ("Europe/Ulyanovsk",), ("842",)),
    Subject("KHE", "Херсонская область", MSK),
    Subject("CHE", "Челябинская область", ("Asia/Yekaterinburg",), ("351",)),
    Subject("YAR", "Ярославская область", MSK, ("485",)),
    # Cities of federal importance
    Subject("MOW", "Город Москва", MSK, ("495", "499"), ("г. Москва", "Москва")),
    Subject("SPE", "Город Санкт-Петербург", MSK, ("812",), ("г. Санкт-Петербург",)),
    Subject("SEV", "Город Севастополь", ("Europe/Simferopol",), ("869",), ("г. Севастополь",)),
    # Autonomous oblast and okrugs
    Subject("YEV", "Еврейская автономная область", ("Asia/Vladivostok",), ("426",)),
    Subject("NEN", "Ненецкий автономный округ", MSK, ("81853",), ("Ненецкий АО",)),
    Subject("KHM", "Ханты-Мансийский автономный округ - Югра", ("Asia/Yekaterinburg",), ("346",),
            ("Ханты-Мансийский АО - Югра", "Ханты - Мансийский - Югра АО", "Ханты-Мансийский Автономный округ - Югра АО")),
    Subject("CHU", "Чукотский автономный округ", ("Asia/Anadyr",), ("427",), ("Чукотский АО",)),
    Subject("YAN", "Ямало-Ненецкий автономный округ", ("Asia/Yekaterinburg",), ("349",), ("Ямало-Ненецкий АО",)),
)

BY_CODE: dict[str, Subject] = {s.code: s for s in SUBJECTS}

# Within a subject's code, a landline prefix narrower than the subject (Yakutsk city is UTC+9).
AREA_CODE_ZONES: dict[str, tuple[str, tuple[str, ...]]] = {"4112": ("SA", ("Asia/Yakutsk",))}


def all_zones() -> tuple[str, ...]:
    """Every zone in use in the federation, west to east as the table lists them, once each."""
    return _all_zones()


@functools.cache
def _all_zones() -> tuple[str, ...]:
    from zoneinfo import ZoneInfo
    from datetime import datetime, timezone

    names = dict.fromkeys(z for s in SUBJECTS for z in s.zones)
    probe = datetime(2026, 1, 15, tzinfo=timezone.utc)
    return tuple(sorted(names, key=lambda z: probe.astimezone(ZoneInfo(z)).utcoffset()))


def zones_of(codes) -> tuple[str, ...]:
    """The zones of one or more subject codes (`RU`: all of them), once each, in order."""
    out: dict[str, None] = {}
    for code in codes:
        out.update(dict.fromkeys(all_zones() if code == NATIONWIDE else BY_CODE[code].zones))
    return tuple(out)


def _norm(text: str) -> str:
    text = text.lower().replace("ё", "е")
    text = re.sub(r"[()/\"«»]", " ", text)
    text = re.sub(r"\s*-\s*", " - ", text)
    text = re.sub(r"\bобл\.?$", "область", text.strip())
    return re.sub(r"\s+", " ", text).strip()


@functools.cache
def _names() -> dict[str, str]:
    out = {_norm("Российская Федерация"): NATIONWIDE}
    for s in SUBJECTS:
        for name in (s.name, *s.aliases):
            out[_norm(name)] = s.code
    return out


def subject_codes(territory: str) -> tuple[str, ...] | None:
    """The subject codes a registry range's territory names, or None if it names none we know.

    The register separates the subjects of one range with ", ", " * ", " и " or "|" (and puts
    municipalities among them, "г. Норильск|г.о. город Норильск|Красноярский край": those are
    not subjects and are skipped, as long as one subject is named)."""
    names = _names()
    whole = names.get(_norm(territory))
    if whole is not None:
        return (whole,)
    codes: dict[str, None] = {}
    for part in re.split(r"\||,| \* | и ", territory):
        code = names.get(_norm(part))
        if code is not None:
            codes[code] = None
    return tuple(codes) or None


@functools.cache
def _area_codes() -> tuple[dict[str, tuple[str, tuple[str, ...]]], int]:
    table: dict[str, tuple[str, tuple[str, ...]]] = {}
    for s in SUBJECTS:
        for prefix in s.area_codes:
            table[prefix] = (s.code, s.zones)
    table.update(AREA_CODE_ZONES)
    return table, max(map(len, table))


def area_code_zones(nsn: str) -> tuple[str, tuple[str, ...]] | None:
    """(subject code, zones) of a Russian landline by its area code (longest prefix of the
    national number), None for a code of no subject."""
    table, longest = _area_codes()
    for n in range(min(longest, len(nsn)), 2, -1):
        hit = table.get(nsn[:n])
        if hit is not None:
            return hit
    return None
