import sqlite3

import pytest

from tests.conftest import TEST_DATABASE_URL

pytestmark = pytest.mark.skipif(not TEST_DATABASE_URL.startswith("sqlite"),
                                reason="the backup command copies SQLite; PostgreSQL uses pg_dump")


def test_backup_is_a_consistent_copy(runner, world, tmp_path):
    dest = tmp_path / "copy.db"
    r = runner.invoke(args=["diary", "backup", str(dest)])
    assert r.exit_code == 0, r.output
    copy = sqlite3.connect(dest)
    codes = sorted(row[0] for row in copy.execute("SELECT study_code FROM patients"))
    copy.close()
    assert codes == ["P-0001", "P-0002", "P-0101"]


def test_backup_refuses_to_overwrite(runner, world, tmp_path):
    dest = tmp_path / "copy.db"
    dest.write_text("precious")
    r = runner.invoke(args=["diary", "backup", str(dest)])
    assert r.exit_code == 1 and "exists" in r.output
    assert dest.read_text() == "precious"
