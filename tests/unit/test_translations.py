"""Every string a user sees is translated into French, and the compiled catalog is current."""
import subprocess
import sys
from pathlib import Path

from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
PO = ROOT / "translations/fr/LC_MESSAGES/messages.po"
MO = ROOT / "translations/fr/LC_MESSAGES/messages.mo"


def _key(msgid):
    # Plural entries: a tuple in the .po reader, a list in the .mo reader.
    return tuple(msgid) if isinstance(msgid, (list, tuple)) else msgid


def _extract(tmp_path) -> set:
    # babel.cfg's patterns (diary/**.py, templates/**.html) are relative to the project root,
    # so extract from the root, as translations/update.sh does.
    pot = tmp_path / "messages.pot"
    subprocess.run([sys.executable, "-m", "babel.messages.frontend", "extract", "-F",
                    str(ROOT / "babel.cfg"), "-k", "_l", "-k", "lazy_gettext",
                    "-k", "ngettext:1,2", "--no-location", "-o", str(pot), "."],
                   check=True, cwd=ROOT, capture_output=True)
    with pot.open("rb") as fh:
        return {_key(m.id) for m in read_po(fh) if m.id}


def test_extraction_finds_the_apps_strings(tmp_path):
    wanted = _extract(tmp_path)
    assert "Log in" in wanted  # templates/accounts/login.html
    assert "Red or purple spots on the skin (legs)" in wanted  # diary/checkins/items.py
    assert ("%(num)d patient", "%(num)d patients") in wanted  # ngettext in a template


def test_every_string_has_a_french_translation(tmp_path):
    wanted = _extract(tmp_path)
    with PO.open("rb") as fh:
        catalog = read_po(fh)
    missing, fuzzy = [], []
    for msgid in sorted(wanted, key=str):
        msg = catalog.get(msgid)
        if msg is None or not (msg.string if isinstance(msg.string, str) else all(msg.string)):
            missing.append(msgid)
        elif msg.fuzzy:
            fuzzy.append(msgid)
    assert not missing, f"{len(missing)} strings without French: {missing[:10]}"
    assert not fuzzy, f"{len(fuzzy)} fuzzy French strings: {fuzzy[:10]}"


def test_compiled_catalog_matches_the_po_file():
    with PO.open("rb") as fh:
        po = {_key(m.id): _key(m.string) for m in read_po(fh) if m.id and not m.fuzzy}
    with MO.open("rb") as fh:
        mo = {_key(m.id): _key(m.string) for m in read_mo(fh) if m.id}
    assert mo == po, "run translations/update.sh to recompile messages.mo"


def test_no_gettext_call_hides_inside_another():
    # pybabel extracts only the outer call of _("...", x=_("...")): the inner string would
    # never reach the catalog and would stay English on French pages.
    import ast

    names = {"_", "_l", "gettext", "lazy_gettext", "ngettext"}

    def is_gettext(node):
        return isinstance(node, ast.Call) and getattr(node.func, "id", None) in names

    hidden = []
    for path in sorted((ROOT / "diary").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if is_gettext(node):
                hidden += [f"{path.relative_to(ROOT)}:{inner.lineno}"
                           for inner in ast.walk(node) if inner is not node and is_gettext(inner)]
    assert not hidden, f"gettext inside gettext (move the inner call out): {hidden}"
