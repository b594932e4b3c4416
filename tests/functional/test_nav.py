"""The navigation bar: each role's entries, in the page's language (built once for each)."""


def _bar(html: str) -> str:
    return html.split('<nav class="nav"', 1)[1].split("</nav>", 1)[0]


def test_the_bar_follows_the_role_and_the_language(client, auth, world):
    auth.login("P-0001")
    english = _bar(client.get("/today").get_data(as_text=True))
    assert ">My history</a>" in english and ">Today</a>" in english
    assert "/staff/" not in english
    client.post("/language", data={"locale": "fr", "next": "/today"})
    french = _bar(client.get("/today").get_data(as_text=True))
    assert ">Mon historique</a>" in french and ">Aujourd&#39;hui</a>" in french
    auth.logout()

    auth.login("coord1@example.org")
    coordinator = _bar(client.get("/staff/patients").get_data(as_text=True))
    assert 'href="/staff/patients/new"' in coordinator and "/history" not in coordinator
    # the current page is still marked, page by page
    assert '<a href="/staff/patients" aria-current="page">' in coordinator
    other = _bar(client.get("/staff/exports").get_data(as_text=True))
    assert '<a href="/staff/exports" aria-current="page">' in other
    assert '<a href="/staff/patients">' in other


def test_the_frame_links_follow_the_script_root(client, auth, world):
    """Behind a proxy that mounts the diary under a path, the links built once for the
    frame (static files, the bar) carry that path, and those of the root do not."""
    auth.login("P-0001")
    plain = client.get("/today").get_data(as_text=True)
    mounted = client.get("/today", base_url="http://localhost/diary").get_data(as_text=True)
    assert 'href="/static/css/app.css"' in plain and 'href="/history"' in _bar(plain)
    assert 'href="/diary/static/css/app.css"' in mounted
    assert 'href="/diary/history"' in _bar(mounted)
