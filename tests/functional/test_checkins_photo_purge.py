"""Photos stored at the review step but never saved are removed after a day; saved ones stay."""
import os
from datetime import timedelta

from diary.checkins import photos
from diary.checkins.models import CheckIn
from diary.extensions import db


def _file(name: str, age: timedelta, now) -> None:
    path = photos.folder() / name
    path.write_bytes(b"\xff\xd8 not really a jpeg")
    stamp = (now - age).timestamp()
    os.utime(path, (stamp, stamp))


def test_purge_keeps_saved_and_recent_photos(app, world, now):
    saved, orphan, fresh = "a" * photos.TOKEN_LEN + ".jpg", "b" * photos.TOKEN_LEN + ".jpg", \
        "c" * photos.TOKEN_LEN + ".png"
    for name, age in ((saved, timedelta(days=3)), (orphan, timedelta(days=2)),
                      (fresh, timedelta(hours=1))):
        _file(name, age, now)
    patient = world["pat1"]
    db.session.add(CheckIn(patient_id=patient.id, client_id="photo-purge-1",
                           diary_date=now.date(), received_at=now, photo_file=saved,
                           photo_content_type="image/jpeg", warning_signs=[], note=""))
    db.session.commit()
    try:
        assert photos.purge_orphans(now) == 1
        names = {p.name for p in photos.folder().iterdir()}
        assert saved in names and fresh in names and orphan not in names
    finally:
        for name in (saved, orphan, fresh):
            (photos.folder() / name).unlink(missing_ok=True)
