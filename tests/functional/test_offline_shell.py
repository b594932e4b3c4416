"""The installable shell: manifest, icons, service worker, and what the phone may keep."""
import json

from PIL import Image

from tests.conftest import PASSWORD


def test_manifest_makes_the_diary_installable(client):
    resp = client.get("/static/manifest.webmanifest")
    assert resp.status_code == 200
    manifest = json.loads(resp.get_data(as_text=True))
    assert manifest["display"] == "standalone"
    assert manifest["start_url"] == "/" and manifest["scope"] == "/"
    assert manifest["short_name"] and manifest["theme_color"] == "#1d4f91"
    icons = {(i["sizes"], i["purpose"]): i["src"] for i in manifest["icons"]}
    assert {("192x192", "any"), ("512x512", "any"), ("512x512", "maskable")} <= set(icons)
    for (sizes, _purpose), src in icons.items():
        png = client.get(src)
        assert png.status_code == 200 and png.mimetype == "image/png"
        with Image.open(__import__("io").BytesIO(png.data)) as img:
            assert f"{img.width}x{img.height}" == sizes


def test_every_page_links_the_manifest_and_icons(client):
    html = client.get("/login").get_data(as_text=True)
    assert 'rel="manifest" href="/static/manifest.webmanifest"' in html
    assert 'rel="apple-touch-icon"' in html and 'rel="icon"' in html
    assert client.get("/favicon.ico").status_code == 200


def test_service_worker_is_served_at_the_root_with_its_shell(client):
    resp = client.get("/sw.js")
    assert resp.status_code == 200
    assert resp.mimetype == "text/javascript"
    assert resp.headers["Service-Worker-Allowed"] == "/"
    assert resp.headers["Cache-Control"] == "no-cache"
    body = resp.get_data(as_text=True)
    assert "__SHELL_URLS__" not in body and "__SHELL_VERSION__" not in body
    for url in ("/static/css/app.css", "/static/js/queue.js", "/static/js/offline.js", "/offline"):
        assert f'"{url}"' in body
    # every shell URL exists, or the worker's install would fail
    for url in json.loads(body.split("var SHELL = ", 1)[1].split(";", 1)[0]):
        assert client.get(url).status_code == 200, url


def test_offline_page_needs_no_login(client):
    resp = client.get("/offline")
    assert resp.status_code == 200
    assert "You are offline" in resp.get_data(as_text=True)


def _data_block(html: str) -> dict | None:
    marker = '<script type="application/json" id="diary-offline">'
    if marker not in html:
        return None
    return json.loads(html.split(marker, 1)[1].split("</script>", 1)[0])


def test_patient_pages_embed_the_urgent_rules_and_site_phone(client, auth, world):
    auth.login("P-0001")
    resp = client.get("/today")
    assert resp.status_code == 200
    assert resp.headers["X-Diary-Offline"] == "page"
    data = _data_block(resp.get_data(as_text=True))
    assert data["user"] == world["pat1"].user.id
    assert data["phone"] == "+33 1 42 16 00 00"
    assert data["emergency"] == "15"
    rules = data["rules"]
    assert rules["high_fever_c"] == 39.0 and rules["fever_c"] == 38.0
    assert set(rules["urgent_warning_signs"]) == {
        "blood_in_stool", "coughing_blood", "limb_weakness", "confusion", "digital_necrosis",
        "oliguria", "fainting"}
    kinds = {f["kind"]: f for f in data["forms"]}
    assert kinds["checkin"]["api"] == "/api/v1/checkins"
    assert kinds["injection"]["api"] == "/api/v1/injections"
    assert kinds["injection"]["pattern"] == r"^/doses/(\d+)/record$"
    assert data["session"] == "/api/v1/session"
    assert "/today" in data["pages"] and "/checkin" in data["pages"]


def test_checkin_page_is_kept_offline_but_not_the_advice_or_calendar(client, auth, world):
    auth.login("P-0001")
    assert client.get("/checkin").headers.get("X-Diary-Offline") == "page"
    assert "X-Diary-Offline" not in client.get("/calendar").headers


def test_staff_pages_are_never_kept_and_carry_no_offline_data(client, world):
    client.post("/login", data={"login": "inv1@example.org", "password": PASSWORD})
    resp = client.get("/", follow_redirects=True)
    assert resp.status_code == 200
    assert "X-Diary-Offline" not in resp.headers
    assert _data_block(resp.get_data(as_text=True)) is None


def test_logged_out_pages_carry_no_offline_data(client):
    html = client.get("/login").get_data(as_text=True)
    assert _data_block(html) is None
    assert 'src="/static/js/offline.js"' in html


def test_text_is_gzipped_for_browsers_that_accept_it(client):
    import gzip

    plain = client.get("/static/css/app.css")
    packed = client.get("/static/css/app.css", headers={"Accept-Encoding": "gzip, br"})
    assert packed.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in packed.headers["Vary"]
    assert gzip.decompress(packed.data) == plain.data
    assert len(packed.data) < len(plain.data) / 2
    assert packed.headers["ETag"] != plain.headers["ETag"]
    page = client.get("/login", headers={"Accept-Encoding": "gzip"})
    assert b"<form" in gzip.decompress(page.data)
    assert client.get("/static/icons/icon-192.png",
                      headers={"Accept-Encoding": "gzip"}).headers.get("Content-Encoding") is None


@__import__("pytest").mark.config(GZIP=False)
def test_gzip_can_be_turned_off(client):
    resp = client.get("/static/css/app.css", headers={"Accept-Encoding": "gzip"})
    assert "Content-Encoding" not in resp.headers
