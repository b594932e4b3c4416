"""The check-in page: the form, the review step, saving, the advice, the photo."""
import html as h
import io
import re

import pytest
from PIL import Image

from diary.alerts.models import Alert
from diary.checkins.models import CheckIn
from tests.helpers_checkins import count


@pytest.fixture
def patient(client, auth, world, frozen_clock):
    auth.login("P-0001")
    return world["pat1"]


def client_id_of(html: str) -> str:
    return hidden(html, "client_id")


def form_data(client, **answers):
    html = client.get("/checkin").get_data(as_text=True)
    data = {"client_id": client_id_of(html), "diary_date": "2026-11-25", "temperature_c": "",
            "site_diameter_cm": "", "note": "", "action": "review"}
    data.update(answers)
    return data


def review(client, data):
    return client.post("/checkin", data=data, content_type="multipart/form-data")


def hidden(html: str, name: str) -> str:
    m = re.search(rf'id="{name}" name="{name}" type="hidden" value="([^"]*)"', html)
    return m.group(1) if m else ""


def save(client, review_html, action="save"):
    raw = re.search(r'id="payload" name="payload" type="hidden" value="([^"]*)"', review_html)
    return client.post("/checkin/save", data={
        "payload": h.unescape(raw.group(1)), "photo_token": hidden(review_html, "photo_token"),
        "action": action})


def test_the_form_shows_every_item_with_words_and_nothing_checked(client, patient):
    html = client.get("/checkin").get_data(as_text=True)
    assert "Red or purple spots on the skin (legs)" in html
    assert "Shortness of breath" in html
    assert html.count('name="symptom-') == 12 * 5
    assert not re.search(r'name="symptom-[a-z_]+" value="\d" checked', html)
    assert "<summary>Anything new or unusual?</summary>" in html
    assert "Blood in stools or black stools" in html
    assert "Very severe" in html and "Today," in html and "Yesterday," in html


def test_only_patients_see_the_form(client, auth, world):
    auth.login("inv1@example.org")
    assert client.get("/checkin").status_code == 403


def test_review_then_save_then_calm_advice(client, patient):
    data = form_data(client, **{"symptom-asthenia": "1", "symptom-purpura": "0",
                                "temperature_c": "36,9", "note": "fine"})
    resp = review(client, data)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert "Check your answers" in html and "Tiredness / weakness" in html
    assert "36.9 °C" in html
    assert count(CheckIn) == 0  # nothing saved before "Save"
    resp = save(client, html)
    assert resp.status_code == 302
    assert count(CheckIn) == 1
    stored = CheckIn.query.one()
    assert stored.grades == {"asthenia": 1, "purpura": 0} and stored.temperature_c == 36.9
    assert stored.source == "web" and stored.note == "fine"
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert '<h1 id="advice-title">Thank you, your check-in is saved</h1>' in page
    assert 'class="button call-button' not in page


def test_change_goes_back_to_the_form_with_the_answers(client, patient):
    html = review(client, form_data(client, **{"symptom-nausea": "2",
                                               "temperature_c": "37.5"})).get_data(as_text=True)
    back = save(client, html, action="change").get_data(as_text=True)
    assert 'name="symptom-nausea" value="2" checked' in back
    assert 'value="37.5"' in back
    assert count(CheckIn) == 0


def test_urgent_advice_is_unmissable_with_the_sites_phone(client, patient):
    html = review(client, form_data(client, temperature_c="39.0")).get_data(as_text=True)
    resp = save(client, html)
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert '<h1 id="advice-title">Call the trial team now</h1>' in page
    assert 'href="tel:+33142160000"' in page
    assert "+33 1 42 16 00 00" in page
    assert "If you cannot reach them, call 15." in page and 'href="tel:15"' in page
    assert 'role="alert"' in page
    assert Alert.query.one().rule == "U1"


def test_within_24h_advice(client, patient):
    data = form_data(client, **{"warning_signs": "leg_ulcer"})
    resp = save(client, review(client, data).get_data(as_text=True))
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert '<h1 id="advice-title">Contact the trial team today</h1>' in page
    assert 'href="tel:+33142160000"' in page
    assert '<h1 id="advice-title">Call the trial team now</h1>' not in page


def test_bad_answers_are_shown_on_the_form_and_nothing_is_stored(client, patient):
    resp = review(client, form_data(client, **{"temperature_c": "55", "symptom-purpura": "5",
                                               "symptom-sneezing": "1"}))
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert "must be between 34.0 and 43.0" in html
    assert "a whole number from 0 to 4 is required" in html
    assert "sneezing: unknown item" in html
    assert count(CheckIn) == 0


def test_two_days_ago_is_refused_on_the_page(client, patient):
    resp = review(client, form_data(client, diary_date="2026-11-23"))
    assert resp.status_code == 422
    assert "today or yesterday only" in resp.get_data(as_text=True)


def test_double_save_stores_once(client, patient):
    html = review(client, form_data(client, temperature_c="39.5")).get_data(as_text=True)
    first, second = save(client, html), save(client, html)
    assert first.headers["Location"] == second.headers["Location"]
    assert count(CheckIn) == 1 and count(Alert) == 1


# --- photos ------------------------------------------------------------------

def jpeg_with_gps() -> bytes:
    img = Image.new("RGB", (64, 48), (200, 30, 60))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"          # Make
    exif[0x8825] = {2: (48.0, 50.0, 0.0)}  # GPSInfo: latitude
    out = io.BytesIO()
    img.save(out, "JPEG", exif=exif.tobytes())
    return out.getvalue()


def with_photo(client, data: bytes, name: str, **answers):
    d = form_data(client, **answers)
    d["photo"] = (io.BytesIO(data), name)
    return review(client, d)


def test_a_photo_is_stored_without_metadata_and_served_to_its_patient(client, patient):
    original = jpeg_with_gps()
    assert Image.open(io.BytesIO(original)).getexif()  # the test photo does carry EXIF
    html = with_photo(client, original, "spots.jpg", **{"symptom-purpura": "2"}).get_data(
        as_text=True)
    assert "Attached" in html
    resp = save(client, html)
    checkin = CheckIn.query.one()
    assert checkin.photo_content_type == "image/jpeg"
    got = client.get(f"/checkins/{checkin.id}/photo")
    assert got.status_code == 200 and got.mimetype == "image/jpeg"
    served = Image.open(io.BytesIO(got.data))
    assert served.size == (64, 48)
    assert not served.getexif() and b"PhoneMaker" not in got.data
    assert "no-store" in got.headers["Cache-Control"]
    assert resp.status_code == 302


def test_photo_visible_to_own_site_staff_not_to_another_site(client, auth, patient, world):
    html = with_photo(client, jpeg_with_gps(), "a.jpg").get_data(as_text=True)
    save(client, html)
    checkin_id = CheckIn.query.one().id
    auth.logout()
    auth.login("inv2@example.org")
    assert client.get(f"/checkins/{checkin_id}/photo").status_code == 404
    auth.logout()
    auth.login("inv1@example.org")
    assert client.get(f"/checkins/{checkin_id}/photo").status_code == 200
    auth.logout()
    auth.login("P-0002")
    assert client.get(f"/checkins/{checkin_id}/photo").status_code == 404


def test_a_text_file_named_jpg_is_refused(client, patient):
    resp = with_photo(client, b"this is not a picture\n" * 10, "spots.jpg")
    assert resp.status_code == 422
    assert "not a JPEG or PNG image" in resp.get_data(as_text=True)
    assert count(CheckIn) == 0


def test_a_gif_is_refused(client, patient):
    out = io.BytesIO()
    Image.new("RGB", (4, 4)).save(out, "GIF")
    resp = with_photo(client, out.getvalue(), "x.gif")
    assert resp.status_code == 422 and "JPEG or PNG" in resp.get_data(as_text=True)


def test_a_20_mb_photo_is_refused(client, patient):
    resp = with_photo(client, b"\xff\xd8\xff" + b"0" * (20 * 1024 * 1024), "big.jpg")
    assert resp.status_code in (413, 422)
    assert count(CheckIn) == 0


def test_an_11_mb_photo_is_refused_by_our_limit(client, patient):
    resp = with_photo(client, b"\xff\xd8\xff" + b"0" * (11 * 1024 * 1024), "big.jpg")
    assert resp.status_code == 422
    assert "larger than 10 MB" in resp.get_data(as_text=True)


def test_a_png_is_accepted(client, patient):
    out = io.BytesIO()
    Image.new("RGBA", (10, 10), (0, 0, 255, 128)).save(out, "PNG")
    html = with_photo(client, out.getvalue(), "x.png").get_data(as_text=True)
    save(client, html)
    checkin = CheckIn.query.one()
    got = client.get(f"/checkins/{checkin.id}/photo")
    assert got.mimetype == "image/png" and Image.open(io.BytesIO(got.data)).format == "PNG"


def test_a_photo_token_not_from_this_session_is_ignored(client, auth, patient):
    html = with_photo(client, jpeg_with_gps(), "a.jpg").get_data(as_text=True)
    token = hidden(html, "photo_token")
    auth.logout()
    auth.login("P-0002")
    other = review(client, form_data(client)).get_data(as_text=True)
    raw = re.search(r'id="payload" name="payload" type="hidden" value="([^"]*)"', other)
    client.post("/checkin/save", data={"payload": h.unescape(raw.group(1)),
                                       "photo_token": token, "action": "save"})
    assert CheckIn.query.one().photo_file is None


def test_the_today_page_carries_the_checkin_card(client, patient):
    page = client.get("/today")
    if page.status_code == 404:
        pytest.skip("the Today page (issue 3) is not installed")
    html = page.get_data(as_text=True)
    assert "Start today's check-in" in html and 'href="/checkin"' in html
    save(client, review(client, form_data(client)).get_data(as_text=True))
    html = client.get("/today").get_data(as_text=True)
    assert "You sent 1 check-in today." in html and "Add another check-in" in html
