"""The callee's zones from the number (autodialer.zones): the Russian mobile registry's ranges,
the subjects' zones, landline area codes, Kazakhstan, several-zone countries; stored on import
into PostgreSQL and honoured by the calling windows across 2027's DST changes.

Expected zones and UTC offsets below are written by hand (the law on time zones, IANA's
zone1970.tab), not computed with the code under test."""

from __future__ import annotations

import csv
import shutil
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import phonenumbers
import pytest
import sqlalchemy as sa
from phonenumbers import timezone as pn_timezone

from autodialer.lists.phones import PhoneNormalizer
from autodialer.zones import callee_zones, zones_for_parts
from autodialer.zones.registry import TABLE, RegistryError, build_table, load_table, read_table
from autodialer.zones.subjects import BY_CODE, SUBJECTS

UTC = timezone.utc
REGISTRY = Path("/work/shared/data/ru-numbering-plan/DEF-9xx.csv")
KAZAKH = {"Asia/Almaty", "Asia/Qostanay", "Asia/Qyzylorda", "Asia/Aqtobe", "Asia/Aqtau", "Asia/Atyrau", "Asia/Oral"}
YAKUTIA = ("Asia/Yakutsk", "Asia/Ust-Nera", "Asia/Srednekolymsk")  # UTC+9, +10, +11
RUSSIA = {  # every zone in use in the federation, with its UTC offset (none has summer time)
    "Europe/Kaliningrad": 2, "Europe/Moscow": 3, "Europe/Simferopol": 3, "Europe/Volgograd": 3, "Europe/Kirov": 3,
    "Europe/Samara": 4, "Europe/Astrakhan": 4, "Europe/Saratov": 4, "Europe/Ulyanovsk": 4, "Asia/Yekaterinburg": 5,
    "Asia/Omsk": 6, "Asia/Barnaul": 7, "Asia/Krasnoyarsk": 7, "Asia/Novokuznetsk": 7, "Asia/Novosibirsk": 7,
    "Asia/Tomsk": 7, "Asia/Irkutsk": 8, "Asia/Yakutsk": 9, "Asia/Chita": 9, "Asia/Ust-Nera": 10,
    "Asia/Vladivostok": 10, "Asia/Srednekolymsk": 11, "Asia/Magadan": 11, "Asia/Sakhalin": 11,
    "Asia/Kamchatka": 12, "Asia/Anadyr": 12,
}

# The issue's twelve numbers (mobiles from real registry ranges, as a data team writes them).
TWELVE = [
    ("mobile Kaliningrad", "8 (911) 461-23-45", "+79114612345", ("Europe/Kaliningrad",)),  # 911 450-499 MTS
    ("mobile Primorye", "+7 914 700 12 34", "+79147001234", ("Asia/Vladivostok",)),  # 914 650-739 MTS
    ("mobile Kamchatka", "89098351234", "+79098351234", ("Asia/Kamchatka",)),  # 909 830-839 Beeline
    ("mobile Samara", "79277001234", "+79277001234", ("Europe/Samara",)),  # 927 685-799 MegaFon
    ("mobile Sverdlovsk", "+79826501234", "+79826501234", ("Asia/Yekaterinburg",)),  # 982 600-769 MTS
    ("mobile Omsk", "8-913-650-12-34", "+79136501234", ("Asia/Omsk",)),  # 913 600-689 MTS
    ("mobile Irkutsk", "79149001234.0", "+79149001234", ("Asia/Irkutsk",)),  # 914 870-959 MTS
    ("mobile Zabaikalye", "+7 (914) 450-12-34", "+79144501234", ("Asia/Chita",)),  # 914 430-529 MTS
    ("mobile Tatarstan", "89274501234", "+79274501234", ("Europe/Moscow",)),  # 927 400-499 MegaFon
    ("mobile Moscow", "+7 916 123-45-67", "+79161234567", ("Europe/Moscow",)),  # 916 MTS, Moscow and oblast
    ("landline Kaliningrad", "8 (4012) 53-12-34", "+74012531234", ("Europe/Kaliningrad",)),
    ("landline Vladivostok", "8 (423) 222-12-34", "+74232221234", ("Asia/Vladivostok",)),
]
NATIONWIDE = ("+79541101234", set(RUSSIA))  # 954 108-117: a range for the whole federation (Iridium)
YAKUTIA_MOBILE = ("+79142501234", YAKUTIA)  # 914 220-309 MTS, Sakha (Yakutia)
KZ_MOBILE, KZ_ALMATY = "+77012345678", "+77272581234"
US_IDAHO = ("+12083201234", ("America/Boise", "America/Los_Angeles"))  # 208 320: phonenumbers gives both

CAPITALS = [  # subject, capital, landline (area code + a subscriber number), its zones
    ("AD", "Майкоп", "+78772521234", ("Europe/Moscow",)),
    ("AL", "Горно-Алтайск", "+73882221234", ("Asia/Barnaul",)),
    ("BA", "Уфа", "+73472721234", ("Asia/Yekaterinburg",)),
    ("BU", "Улан-Удэ", "+73012211234", ("Asia/Irkutsk",)),
    ("DA", "Махачкала", "+78722671234", ("Europe/Moscow",)),
    ("DON", "Донецк", "+78562051234", ("Europe/Moscow",)),
    ("IN", "Магас", "+78734551234", ("Europe/Moscow",)),
    ("KB", "Нальчик", "+78662421234", ("Europe/Moscow",)),
    ("KL", "Элиста", "+78472241234", ("Europe/Moscow",)),
    ("KC", "Черкесск", "+78782261234", ("Europe/Moscow",)),
    ("KR", "Петрозаводск", "+78142781234", ("Europe/Moscow",)),
    ("KO", "Сыктывкар", "+78212241234", ("Europe/Moscow",)),
    ("CR", "Симферополь", "+73652251234", ("Europe/Simferopol",)),
    ("LUG", "Луганск", "+78572501234", ("Europe/Moscow",)),
    ("ME", "Йошкар-Ола", "+78362451234", ("Europe/Moscow",)),
    ("MO", "Саранск", "+78342471234", ("Europe/Moscow",)),
    ("SA", "Якутск", "+74112421234", ("Asia/Yakutsk",)),
    ("SE", "Владикавказ", "+78672531234", ("Europe/Moscow",)),
    ("TA", "Казань", "+78432921234", ("Europe/Moscow",)),
    ("TY", "Кызыл", "+73942221234", ("Asia/Krasnoyarsk",)),
    ("UD", "Ижевск", "+73412511234", ("Europe/Samara",)),
    ("KK", "Абакан", "+73902221234", ("Asia/Krasnoyarsk",)),
    ("CE", "Грозный", "+78712221234", ("Europe/Moscow",)),
    ("CU", "Чебоксары", "+78352621234", ("Europe/Moscow",)),
    ("ALT", "Барнаул", "+73852631234", ("Asia/Barnaul",)),
    ("ZAB", "Чита", "+73022351234", ("Asia/Chita",)),
    ("KAM", "Петропавловск-Камчатский", "+74152411234", ("Asia/Kamchatka",)),
    ("KDA", "Краснодар", "+78612621234", ("Europe/Moscow",)),
    ("KYA", "Красноярск", "+73912211234", ("Asia/Krasnoyarsk",)),
    ("PER", "Пермь", "+73422121234", ("Asia/Yekaterinburg",)),
    ("PRI", "Владивосток", "+74232221234", ("Asia/Vladivostok",)),
    ("STA", "Ставрополь", "+78652261234", ("Europe/Moscow",)),
    ("KHA", "Хабаровск", "+74212321234", ("Asia/Vladivostok",)),
    ("AMU", "Благовещенск", "+74162521234", ("Asia/Yakutsk",)),
    ("ARK", "Архангельск", "+78182651234", ("Europe/Moscow",)),
    ("AST", "Астрахань", "+78512391234", ("Europe/Astrakhan",)),
    ("BEL", "Белгород", "+74722321234", ("Europe/Moscow",)),
    ("BRY", "Брянск", "+74832741234", ("Europe/Moscow",)),
    ("VLA", "Владимир", "+74922321234", ("Europe/Moscow",)),
    ("VGG", "Волгоград", "+78442381234", ("Europe/Volgograd",)),
    ("VLG", "Вологда", "+78172721234", ("Europe/Moscow",)),
    ("VOR", "Воронеж", "+74732551234", ("Europe/Moscow",)),
    ("IVA", "Иваново", "+74932321234", ("Europe/Moscow",)),
    ("IRK", "Иркутск", "+73952201234", ("Asia/Irkutsk",)),
    ("KGD", "Калининград", "+74012531234", ("Europe/Kaliningrad",)),
    ("KLU", "Калуга", "+74842561234", ("Europe/Moscow",)),
    ("KEM", "Кемерово", "+73842361234", ("Asia/Novokuznetsk",)),
    ("KIR", "Киров", "+78332641234", ("Europe/Kirov",)),
    ("KOS", "Кострома", "+74942311234", ("Europe/Moscow",)),
    ("KGN", "Курган", "+73522461234", ("Asia/Yekaterinburg",)),
    ("KRS", "Курск", "+74712511234", ("Europe/Moscow",)),
    ("LEN", "Гатчина", "+78137121234", ("Europe/Moscow",)),
    ("LIP", "Липецк", "+74742271234", ("Europe/Moscow",)),
    ("MAG", "Магадан", "+74132621234", ("Asia/Magadan",)),
    ("MOS", "Красногорск", "+74985611234", ("Europe/Moscow",)),
    ("MUR", "Мурманск", "+78152451234", ("Europe/Moscow",)),
    ("NIZ", "Нижний Новгород", "+78314191234", ("Europe/Moscow",)),
    ("NGR", "Великий Новгород", "+78162731234", ("Europe/Moscow",)),
    ("NVS", "Новосибирск", "+73832221234", ("Asia/Novosibirsk",)),
    ("OMS", "Омск", "+73812241234", ("Asia/Omsk",)),
    ("ORE", "Оренбург", "+73532771234", ("Asia/Yekaterinburg",)),
    ("ORL", "Орёл", "+74862431234", ("Europe/Moscow",)),
    ("PNZ", "Пенза", "+78412561234", ("Europe/Moscow",)),
    ("PSK", "Псков", "+78112721234", ("Europe/Moscow",)),
    ("ROS", "Ростов-на-Дону", "+78632401234", ("Europe/Moscow",)),
    ("RYA", "Рязань", "+74912281234", ("Europe/Moscow",)),
    ("SAM", "Самара", "+78462701234", ("Europe/Samara",)),
    ("SAR", "Саратов", "+78452221234", ("Europe/Saratov",)),
    ("SAK", "Южно-Сахалинск", "+74242721234", ("Asia/Sakhalin",)),
    ("SVE", "Екатеринбург", "+73433711234", ("Asia/Yekaterinburg",)),
    ("SMO", "Смоленск", "+74812381234", ("Europe/Moscow",)),
    ("TAM", "Тамбов", "+74752721234", ("Europe/Moscow",)),
    ("TVE", "Тверь", "+74822321234", ("Europe/Moscow",)),
    ("TOM", "Томск", "+73822511234", ("Asia/Tomsk",)),
    ("TUL", "Тула", "+74872361234", ("Europe/Moscow",)),
    ("TYU", "Тюмень", "+73452461234", ("Asia/Yekaterinburg",)),
    ("ULY", "Ульяновск", "+78422411234", ("Europe/Ulyanovsk",)),
    ("CHE", "Челябинск", "+73512631234", ("Asia/Yekaterinburg",)),
    ("YAR", "Ярославль", "+74852301234", ("Europe/Moscow",)),
    ("MOW", "Москва", "+74951234567", ("Europe/Moscow",)),
    ("SPE", "Санкт-Петербург", "+78123151234", ("Europe/Moscow",)),
    ("SEV", "Севастополь", "+78692541234", ("Europe/Simferopol",)),
    ("YEV", "Биробиджан", "+74262261234", ("Asia/Vladivostok",)),
    ("NEN", "Нарьян-Мар", "+78185341234", ("Europe/Moscow",)),
    ("KHM", "Ханты-Мансийск", "+73467331234", ("Asia/Yekaterinburg",)),
    ("CHU", "Анадырь", "+74272221234", ("Asia/Anadyr",)),
    ("YAN", "Салехард", "+73492241234", ("Asia/Yekaterinburg",)),
]
MOBILE_ONLY = [("ZAP", "+79900501234"), ("KHE", "+79901801234")]  # 990 000-159 / 160-199: no landline code known


def test_the_twelve_numbers_of_the_issue_get_their_own_zone():
    normalizer = PhoneNormalizer("RU")
    for what, cell, e164, zones in TWELVE:
        got_e164, got, reason = normalizer.normalize(cell)
        assert (got_e164, reason) == (e164, None), what
        assert got.zones == zones, what
        assert got.source.value == ("registry" if what.startswith("mobile") else "area_code"), what


@pytest.mark.parametrize("code, capital, number, zones", CAPITALS, ids=[c[0] for c in CAPITALS])
def test_each_subjects_capital(code, capital, number, zones):
    got_e164, got, _ = PhoneNormalizer("RU").normalize("8" + number[2:])
    assert got_e164 == number and got.zones == zones and got.region == code, capital
    assert BY_CODE[code].zones[0] == zones[0] or code == "SA"  # Yakutsk city: the first of Yakutia's three
    # Against phonenumbers' own zone for the code: the same UTC offset in winter and summer, except
    # where phonenumbers is wrong (Bucharest's summer time for Kaliningrad; Saratov's +4 since 2016).
    theirs = pn_timezone.time_zones_for_number(phonenumbers.parse(number))
    assert len(theirs) == 1
    same = all(datetime(2027, m, 1, 12, tzinfo=UTC).astimezone(ZoneInfo(theirs[0])).utcoffset()
               == timedelta(hours=RUSSIA[zones[0]]) for m in (1, 7))
    assert same == (code not in ("KGD", "SAR")), (capital, theirs)


@pytest.mark.parametrize("code, number", MOBILE_ONLY)
def test_subjects_without_a_landline_code_by_their_mobiles(code, number):
    got = PhoneNormalizer("RU").normalize(number)[1]
    assert (got.zones, got.region, got.source.value) == (("Europe/Moscow",), code, "registry")


def test_every_subject_has_zones_and_ranges_in_the_shipped_table():
    assert len(SUBJECTS) == 89  # the subjects the constitution lists
    assert {z for s in SUBJECTS for z in s.zones} == set(RUSSIA)
    assert [s.code for s in SUBJECTS if len(s.zones) > 1] == ["SA"]
    table = load_table()
    assert table.snapshot == "2026-04" and table.source_rows == 16629
    served = {code for codes in table.subjects for code in codes}
    assert served == set(BY_CODE) | {"RU"}
    for z in RUSSIA:
        assert datetime(2027, 1, 1, tzinfo=UTC).astimezone(ZoneInfo(z)).utcoffset() == timedelta(hours=RUSSIA[z]), z
        assert datetime(2027, 7, 1, tzinfo=UTC).astimezone(ZoneInfo(z)).utcoffset() == timedelta(hours=RUSSIA[z]), z


def test_numbers_whose_zone_cannot_be_narrowed_keep_every_candidate():
    nationwide = callee_zones(NATIONWIDE[0])
    assert set(nationwide.zones) == NATIONWIDE[1] and nationwide.source.value == "registry" and not nationwide.narrowed
    yakutia = callee_zones(YAKUTIA_MOBILE[0])
    assert yakutia.zones == YAKUTIA and yakutia.region == "SA"
    idaho = callee_zones(US_IDAHO[0])
    assert idaho.zones == US_IDAHO[1] and idaho.source.value == "phonenumbers"
    assert callee_zones("+12127365000").zones == ("America/New_York",)
    assert callee_zones("+78005553535").zones == tuple(RUSSIA) and callee_zones("+78005553535").source.value == "country"


def test_kazakhstan_gets_kazakh_zones_not_russian_ones():
    mobile = PhoneNormalizer("RU").normalize("87012345678")[1]
    assert set(mobile.zones) == KAZAKH and mobile.region == "KZ"
    almaty = callee_zones(KZ_ALMATY)
    assert almaty.zones == ("Asia/Almaty",) and almaty.region == "KZ"
    # phonenumbers alone gives a Kazakh mobile every zone of +7, Russian ones included.
    assert "Europe/Moscow" in pn_timezone.time_zones_for_number(phonenumbers.parse(KZ_MOBILE))


@pytest.mark.skipif(not REGISTRY.is_file(), reason="the registry file is not on this machine")
def test_the_shipped_table_is_what_the_registry_builds(tmp_path):
    out = build_table(REGISTRY, "2026-04", tmp_path / "table.txt")
    assert (tmp_path / "table.txt").read_text(encoding="utf-8") == TABLE.read_text(encoding="utf-8")
    assert len(out) == len(load_table())


def _registry(path: Path, rows: list[list[str]]) -> Path:
    header = "АВС/ DEF;От;До;Емкость;Оператор;Регион;Территория ГАР;ИНН"
    path.write_bytes(("\ufeff" + "\n".join([header] + [";".join(r) for r in rows]) + "\n").encode("utf-8"))
    return path


def test_the_rebuild_command_reads_a_newer_registry(tmp_path, capsys):
    from autodialer.cli import main

    rows = [
        ["914", "2200000", "3099999", "900000", "ПАО МТС", "Республика Саха /Якутия/", "Республика Саха (Якутия)", "1"],
        ["914", "3100000", "3199999", "100000", "ПАО МТС", "Республика Саха /Якутия/", "Республика Саха (Якутия)", "1"],
        ["900", "0062000", "0062999", "1000", "Т2", "Ростовская обл.", "Ростовская область", "1"],
        ["958", "0000000", "0000999", "1000", "X", "-", "г. Норильск|г.о. город Норильск|Красноярский край", "1"],
        ["954", "1080000", "1179999", "100000", "Иридиум", "Российская Федерация", "Российская Федерация", "1"],
        ["999", "0000000", "0009999", "10000", "Y", "-", "Город Москва, Московская область", "1"],
    ]
    out = tmp_path / "table.txt"
    assert main(["zones", "build", str(_registry(tmp_path / "DEF-9xx.csv", rows)), "--snapshot", "2026-10-01", "--out", str(out)]) == 0
    assert "5 ranges from 6 registry rows, snapshot 2026-10-01" in capsys.readouterr().out
    table = read_table(out)
    assert table.snapshot == "2026-10-01"
    assert table.subjects_for("9143150000") == ("SA",)  # two adjacent Yakutia ranges, merged
    assert table.subjects_for("9580000500") == ("KYA",)  # Norilsk: the municipality is skipped, its krai kept
    assert table.subjects_for("9990005000") == ("MOS", "MOW")
    assert table.subjects_for("9541100000") == ("RU",)
    assert table.subjects_for("9143200000") is None  # not in the file
    bad = rows + [["901", "0000000", "0000999", "1000", "Z", "Атлантида", "Атлантида", "1"]]
    assert main(["zones", "build", str(_registry(tmp_path / "bad.csv", bad)), "--snapshot", "x", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "line 8: territory 'Атлантида'" in err
    assert read_table(out).snapshot == "2026-10-01"  # the table in place is kept
    (tmp_path / "other.csv").write_text("a;b\n1;2\n", encoding="utf-8")
    with pytest.raises(RegistryError, match="not the DEF registry"):
        build_table(tmp_path / "other.csv", "x", out)


# --- stored on import, honoured by the windows --------------------------------------------------

def _us_dst(day: date) -> bool:
    return date(2027, 3, 14) <= day < date(2027, 11, 7)  # second Sunday of March - first of November


def _offsets(zones, day: date) -> list[float]:
    """The zones' UTC offsets (hours) on `day`, from the rules written out by hand."""
    us = {"America/Boise": -7, "America/Los_Angeles": -8, "America/New_York": -5}
    out = []
    for z in zones:
        if z in RUSSIA:
            out.append(RUSSIA[z])
        elif z in KAZAKH:
            out.append(5)
        else:
            out.append(us[z] + _us_dst(day))
    return out


# Around the US changes (14 March, 7 November 2027) and the EU ones (28 March, 31 October), when
# Europe/Bucharest (phonenumbers' zone for Kaliningrad) moves and Kaliningrad does not.
DAYS = [date(2027, 3, 13), date(2027, 3, 15), date(2027, 3, 27), date(2027, 3, 29), date(2027, 7, 1),
        date(2027, 10, 30), date(2027, 11, 1), date(2027, 11, 6), date(2027, 11, 8)]


@pytest.fixture
def pg_store(pg_url):
    from autodialer.store import Store

    store = Store(pg_url)
    store.migrate()
    yield store
    store.close()


def test_zones_are_stored_on_import_and_the_windows_hold_in_each(pg_store, tmp_path):
    from autodialer.campaigns.campaign import Campaign
    from autodialer.lists.mapping import ListSettings

    numbers = [(what, cell, e164, zones) for what, cell, e164, zones in TWELVE] + [
        ("nationwide", NATIONWIDE[0], NATIONWIDE[0], tuple(RUSSIA)),
        ("yakutia", YAKUTIA_MOBILE[0], YAKUTIA_MOBILE[0], YAKUTIA),
        ("kazakhstan", "8" + KZ_MOBILE[2:], KZ_MOBILE, tuple(sorted(KAZAKH))),
        ("idaho", US_IDAHO[0], US_IDAHO[0], US_IDAHO[1]),
        ("new york", "+1 212 736 5000", "+12127365000", ("America/New_York",)),
    ]
    path = tmp_path / "list.csv"
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["name", "phone"])
        w.writerows([(what, cell) for what, cell, _e, _z in numbers])
    settings = ListSettings.model_validate({"name": "c", "kind": "bot", "default_region": "RU",
                                            "list": {"phone_columns": ["phone"], "variables": {"CUSTOMER": "name"}}})
    cid = pg_store.ensure_campaign("c", kind="bot")
    report = pg_store.import_list(cid, path, settings)
    assert report.accepted == len(numbers)
    with pg_store.engine.connect() as conn:
        stored = dict(conn.execute(sa.text("SELECT phone, timezone FROM contacts WHERE campaign_id = :c"), {"c": cid}).all())
    assert stored["+79147001234"] == "Asia/Vladivostok"
    assert stored[YAKUTIA_MOBILE[0]] == "Asia/Yakutsk Asia/Ust-Nera Asia/Srednekolymsk"
    assert stored["+74012531234"] == "Europe/Kaliningrad"

    campaign = Campaign.model_validate({
        "name": "c", "kind": "bot", "destination": {"type": "context", "context": "from-dialer"},
        "schedule": {"cron": "0 * * * *", "timezone": "Europe/Moscow"},  # a Moscow business
        "windows": {"windows": [{"days": "daily", "start": "09:00", "end": "21:00"}]},
    })
    contacts = {c.phone: c for c in pg_store.due_contacts(cid, now=datetime(2027, 1, 1, tzinfo=UTC))}
    windows = campaign.windows
    for what, _cell, e164, zones in numbers:
        contact = contacts[e164]
        honoured = campaign.callee_zones(contact)  # what pick_due_contacts and the dialer evaluate
        assert sorted(honoured) == sorted(zones), what
        for day in DAYS:
            offsets = _offsets(zones, day)
            midnight = datetime(day.year, day.month, day.day, tzinfo=UTC)
            opens = midnight + timedelta(hours=max(9 - o for o in offsets))
            closes = midnight + timedelta(hours=min(21 - o for o in offsets))
            assert opens < closes, what
            minute = timedelta(minutes=1)
            assert windows.is_open_all(opens, honoured) and windows.is_open_all(closes - minute, honoured), (what, day)
            assert not windows.is_open_all(opens - minute, honoured), (what, day, opens)
            assert not windows.is_open_all(closes, honoured), (what, day, closes)
            assert windows.next_open_all(opens - timedelta(hours=1), honoured) == opens, (what, day)
    # The bug the issue saw: a Vladivostok mobile on Moscow's window would be called at 04:00 local.
    vladivostok = campaign.callee_zones(contacts["+79147001234"])
    assert not windows.is_open_all(datetime(2027, 1, 15, 17, 0, tzinfo=UTC), vladivostok)  # 20:00 Moscow, 03:00 there
    assert windows.is_open(datetime(2027, 1, 15, 17, 0, tzinfo=UTC), "Europe/Moscow")
    # And Kaliningrad on Bucharest's summer time would open at 06:00 UTC, 08:00 in Kaliningrad.
    kaliningrad = campaign.callee_zones(contacts["+74012531234"])
    assert not windows.is_open_all(datetime(2027, 7, 1, 6, 30, tzinfo=UTC), kaliningrad)
    assert windows.is_open(datetime(2027, 7, 1, 6, 30, tzinfo=UTC), "Europe/Bucharest")


def test_migration_0006_recomputes_the_zones_of_contacts_loaded_before(db_url):
    """Before 0006 every Russian mobile was stored as `Asia/Almaty` (the first of phonenumbers'
    sixteen): the upgrade replaces it with the zones the windows must honour, and back down keeps
    the first."""
    from autodialer.store import Store

    store = Store(db_url)
    store.migrate_to("0003")
    now = datetime(2026, 11, 28, tzinfo=UTC)
    with store.engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO campaigns (name, kind, created_at) VALUES ('old', 'bot', :now)"), {"now": now})
        cid = conn.execute(sa.text("SELECT id FROM campaigns")).scalar()
        for i, (phone, tz) in enumerate([("+79147001234", "Asia/Almaty"), (YAKUTIA_MOBILE[0], "Asia/Almaty"),
                                         ("+74012531234", "Europe/Bucharest"), ("+442079460958", "Europe/London")]):
            conn.execute(sa.text(
                "INSERT INTO contacts (campaign_id, phone, alternates, timezone, variables, state, attempts, upload_id, row_number, created_at)"
                " VALUES (:c, :p, '[]', :tz, '{}', 'pending', 0, 0, :i, :now)"), {"c": cid, "p": phone, "tz": tz, "i": i, "now": now})
    store.migrate()
    with store.engine.connect() as conn:
        got = dict((p, (tz, src)) for p, tz, src in conn.execute(sa.text("SELECT phone, timezone, timezone_source FROM contacts")))
    assert got == {
        "+79147001234": ("Asia/Vladivostok", "registry"),
        YAKUTIA_MOBILE[0]: ("Asia/Yakutsk Asia/Ust-Nera Asia/Srednekolymsk", "registry"),
        "+74012531234": ("Europe/Kaliningrad", "area_code"),
        "+442079460958": ("Europe/London", "phonenumbers"),
    }
    store.migrate_to("0003")
    with store.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT timezone FROM contacts WHERE phone = :p"), {"p": YAKUTIA_MOBILE[0]}).scalar() == "Asia/Yakutsk"
    store.close()


@pytest.mark.prefect
@pytest.mark.postgres
def test_a_campaign_run_shows_the_zones_and_counts_those_not_narrowed(tmp_path, lab_pbx, pg_url, prefect_api, monkeypatch):
    """The flow against the lab PBX: each task run's message names the zones its window was
    evaluated in, the run's summary says how many callees could not be narrowed to one zone."""
    import asyncio

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    from flows.campaign import campaign_flow

    monkeypatch.setenv("AUTODIALER_AMI_URL", lab_pbx.url)
    monkeypatch.setenv("AUTODIALER_DATABASE_URL", pg_url)
    (tmp_path / "list.csv").write_text(f"phone,name\n89114612345,Kaliningrad\n{YAKUTIA_MOBILE[0]},Yakutia\n"
                                       f"{NATIONWIDE[0]},Nationwide\n", encoding="utf-8")
    (tmp_path / "c.yaml").write_text(
        "name: zones-run\nkind: bot\nlists: [list.csv]\nlist: {phone_columns: [phone], variables: {CUSTOMER: name}}\n"
        "schedule: {cron: '0 * * * *', timezone: Europe/Moscow}\n"
        "windows: {windows: [{days: daily, start: '00:00', end: '23:59:59'}]}\n"
        "destination: {type: context, context: dialer-robot-order}\nring_timeout: 20s\n", encoding="utf-8")
    state = asyncio.run(campaign_flow(str(tmp_path / "c.yaml"), run_minutes=1.0, return_state=True))
    assert state.is_completed(), state.message
    assert "zone not narrowed (window open in every candidate): 2 contact(s) this run, 2 of the campaign's 3" in state.message

    async def task_messages():
        async with get_client() as client:
            flow_run_id = state.state_details.flow_run_id
            runs = await client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))
            return {r.name: r.state.message for r in runs if r.name.startswith("+")}

    messages = asyncio.run(task_messages())
    assert "; callee time Europe/Kaliningrad" in messages["+79114612345 Kaliningrad"], messages
    assert "; callee time Asia/Yakutsk Asia/Ust-Nera Asia/Srednekolymsk (window open in every one)" in messages[
        f"{YAKUTIA_MOBILE[0]} Yakutia"], messages
    assert "Asia/Anadyr" in messages[f"{NATIONWIDE[0]} Nationwide"]


def test_the_fast_block_lookup_agrees_with_the_table_at_every_range_edge():
    """zones_for_parts looks a mobile up by its block of 10,000 numbers first: at both edges of
    every range (and one past them) and at random numbers it must answer as the table does."""
    import random

    table = load_table()
    rng = random.Random(14)
    points = [n + d for lo, hi in zip(table.firsts, table.lasts) for n, d in ((lo, 0), (lo, -1), (hi, 0), (hi, 1))]
    points += [rng.randrange(9_000_000_000, 10_000_000_000) for _ in range(20_000)]
    for n in points:
        if not 9_000_000_000 <= n < 10_000_000_000:
            continue
        nsn = str(n)
        codes = table.subjects_for(nsn)
        got = zones_for_parts("7", nsn, "RU", phonenumbers.PhoneNumberType.MOBILE)
        if codes is None:
            assert got.source.value == "country" and got.region == "RU", nsn
        else:
            assert (got.source.value, got.region) == ("registry", "+".join(codes)), nsn
