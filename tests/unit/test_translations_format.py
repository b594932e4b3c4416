"""Numbers and days in the reader's language (the `decimal` and `long_day` template filters)."""
from datetime import date

import pytest

from diary.core.setup import decimal, long_day


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
