"""The enrolment QR code: inline SVG a strict CSP accepts, labelled for screen readers."""
import re

from diary.accounts.qr import qr_svg
from diary.accounts.staff_services import parse_email_list


def test_qr_is_inline_svg_without_style_or_fixed_size():
    svg = str(qr_svg("http://diary.test/enrol/ABCDEFGHJKMN", "QR code for P-0007"))
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert "style" not in svg and "<script" not in svg
    assert 'role="img"' in svg and 'aria-label="QR code for P-0007"' in svg
    assert "<title>QR code for P-0007</title>" in svg
    assert not re.search(r'<svg[^>]* (width|height)=', svg)  # CSS sizes it
    assert re.search(r'viewBox="0 0 (\d+) \1"', svg)  # square


def test_different_links_give_different_codes_and_the_same_link_the_same():
    a = str(qr_svg("http://diary.test/enrol/AAAAAAAAAAAA", "x"))
    b = str(qr_svg("http://diary.test/enrol/BBBBBBBBBBBB", "x"))
    assert a != b and a == str(qr_svg("http://diary.test/enrol/AAAAAAAAAAAA", "x"))


def test_label_is_escaped():
    assert "<b>" not in str(qr_svg("x", "<b>P-0007</b>"))


def test_email_lists_split_on_lines_commas_semicolons():
    assert parse_email_list(" a@x.org,b@x.org;\n c@x.org \n\n") == ["a@x.org", "b@x.org",
                                                                     "c@x.org"]
    assert parse_email_list("") == [] and parse_email_list(None) == []
