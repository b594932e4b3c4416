"""Numbers, days and times in the reader's language (the `decimal`, `long_day`, `short_day` and
`local_time` template filters)."""
from datetime import UTC, date, datetime

import pytest

from diary.core.setup import decimal, local_time, long_day, short_day


@pytest.mark.parametrize("language, expected", [("fr", ("1,5", "38,3", "3", "mercredi 25 novembre 2026")),
                                                ("en", ("1.5", "38.3", "3", "Wednesday, November 25, 2026"))])
def test_numbers_and_days_follow_the_language(app, language, expected):
    with app.test_request_context(headers={"Accept-Language": language}):
        got = (decimal(1.5), decimal(38.3, 1), decimal(3.0), long_day(date(2026, 11, 25)))
    assert got == expected


def test_odd_values_pass_through(app):
    with app.test_request_context(headers={"Accept-Language": "fr"}):
        assert decimal(None) == "" and decimal("") == ""
        assert decimal("abc") == "abc"
        assert long_day("2026-11-25") == "mercredi 25 novembre 2026"
        assert long_day("not a day") == "not a day"


# --- times on staff pages: the site's clock, the zone named ---------------------------------

WINTER = datetime(2026, 1, 15, 13, 5, tzinfo=UTC)  # CET, UTC+1
SUMMER = datetime(2026, 7, 15, 13, 5, tzinfo=UTC)  # CEST, UTC+2


@pytest.mark.parametrize("language, winter, summer", [
    ("en", "15 Jan 2026, 14:05 (Europe/Paris)", "15 Jul 2026, 15:05 (Europe/Paris)"),
    ("fr", "15 janv. 2026, 14:05 (Europe/Paris)", "15 juil. 2026, 15:05 (Europe/Paris)"),
])
def test_local_time_follows_paris_summer_time(app, language, winter, summer):
    with app.test_request_context(headers={"Accept-Language": language}):
        assert local_time(WINTER, "Europe/Paris") == winter
        assert local_time(SUMMER, "Europe/Paris") == summer


def test_local_time_around_the_clock_changes(app):
    with app.test_request_context(headers={"Accept-Language": "en"}):
        # 29 March 2026: 02:00 CET becomes 03:00 CEST (01:00 UTC)
        assert local_time(datetime(2026, 3, 29, 0, 59, tzinfo=UTC), "Europe/Paris") == \
            "29 Mar 2026, 01:59 (Europe/Paris)"
        assert local_time(datetime(2026, 3, 29, 1, 0, tzinfo=UTC), "Europe/Paris") == \
            "29 Mar 2026, 03:00 (Europe/Paris)"
        # 25 October 2026: 02:30 happens twice (00:30 and 01:30 UTC)
        assert local_time(datetime(2026, 10, 25, 0, 30, tzinfo=UTC), "Europe/Paris") == \
            local_time(datetime(2026, 10, 25, 1, 30, tzinfo=UTC), "Europe/Paris") == \
            "25 Oct 2026, 02:30 (Europe/Paris)"


def test_local_time_in_another_zone_crosses_midnight(app):
    with app.test_request_context(headers={"Accept-Language": "fr"}):
        # 01:30 UTC on the 26th is still the 25th in Cayenne (UTC-3, no summer time)
        moment = datetime(2026, 11, 26, 1, 30, tzinfo=UTC)
        assert local_time(moment, "America/Cayenne") == "25 nov. 2026, 22:30 (America/Cayenne)"
        assert local_time(moment, "America/Cayenne", seconds=True) == \
            "25 nov. 2026, 22:30:00 (America/Cayenne)"


def test_local_time_without_a_zone_is_utc_and_says_so(app):
    moment = datetime(2026, 11, 26, 1, 30, 9, tzinfo=UTC)
    with app.test_request_context(headers={"Accept-Language": "en"}):
        assert local_time(moment) == "26 Nov 2026, 01:30 (UTC)"
        assert local_time(moment, None, seconds=True) == "26 Nov 2026, 01:30:09 (UTC)"
        assert local_time(moment, "Not/AZone") == "26 Nov 2026, 01:30 (UTC)"
        assert local_time(moment.replace(tzinfo=None), "Europe/Paris") == \
            "26 Nov 2026, 02:30 (Europe/Paris)"  # a naive time is taken as UTC
        assert local_time(None, "Europe/Paris") == ""


@pytest.mark.parametrize("language, expected", [("en", "25 Nov 2026"), ("fr", "25 nov. 2026")])
def test_short_day_in_the_reader_language(app, language, expected):
    with app.test_request_context(headers={"Accept-Language": language}):
        assert short_day(date(2026, 11, 25)) == expected
        assert short_day("2026-11-25") == expected
        assert short_day("not a day") == "not a day"
