"""Photos of a skin change: checked to be a real JPEG or PNG, metadata removed, kept private.

Files live under the instance folder (never static/) and are served only by
a view that checks scope. The re-encoding drops EXIF (GPS included) and any
other metadata block; the orientation is applied first so the picture still
looks right.
"""
import io
import secrets
from datetime import timedelta
from pathlib import Path

from flask import current_app
from flask_babel import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError

from diary.errors import Invalid

MAX_BYTES = 10 * 1024 * 1024
MAX_PIXELS = 40_000_000  # a 40-megapixel phone photo; anything bigger is not a photo
FORMATS = {"JPEG": ("image/jpeg", ".jpg"), "PNG": ("image/png", ".png")}
TOKEN_LEN = 32


def folder() -> Path:
    path = Path(current_app.instance_path) / "photos"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _refuse(message: str):
    raise Invalid(message, {"photo": message})


def clean_image(data: bytes) -> tuple[bytes, str, str]:
    """(re-encoded bytes, content type, extension), or Invalid naming `photo`."""
    if len(data) > MAX_BYTES:
        _refuse(_("The photo is larger than 10 MB. Send a smaller one."))
    if not data:
        _refuse(_("The photo file is empty."))
    try:
        with Image.open(io.BytesIO(data)) as probe:
            fmt = probe.format
            if fmt not in FORMATS:
                _refuse(_("Send the photo as a JPEG or PNG image."))
            if probe.width * probe.height > MAX_PIXELS:
                _refuse(_("This picture is too large in pixels."))
            probe.verify()
        with Image.open(io.BytesIO(data)) as img:
            img.load()
            img = ImageOps.exif_transpose(img)
            out = io.BytesIO()
            if fmt == "JPEG":
                if img.mode not in ("RGB", "L"):
                    img = img.convert("RGB")
                img.save(out, "JPEG", quality=90)  # no exif= argument: metadata dropped
            else:
                clean = Image.new(img.mode, img.size)
                clean.paste(img)  # pixels only: text chunks and eXIf left behind
                clean.save(out, "PNG", optimize=True)
    except Invalid:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError,
            Image.DecompressionBombError):
        _refuse(_("This file is not a JPEG or PNG image."))
    content_type, ext = FORMATS[fmt]
    return out.getvalue(), content_type, ext


def store(data: bytes) -> tuple[str, str]:
    """Check and store an uploaded photo; returns (file name, content type)."""
    clean, content_type, ext = clean_image(data)
    name = secrets.token_hex(TOKEN_LEN // 2) + ext
    (folder() / name).write_bytes(clean)
    return name, content_type


def is_stored_name(name: str) -> bool:
    stem, _dot, ext = (name or "").partition(".")
    return (len(stem) == TOKEN_LEN and all(c in "0123456789abcdef" for c in stem)
            and f".{ext}" in {e for _t, e in FORMATS.values()})


def content_type_of(name: str) -> str:
    return "image/png" if name.endswith(".png") else "image/jpeg"


def path_of(name: str) -> Path:
    if not is_stored_name(name):
        raise ValueError("not a stored photo name")
    return folder() / name


def purge_orphans(now, older_than=timedelta(hours=24)) -> int:
    """Delete photos stored at a review step whose check-in was never saved.

    A photo is checked and stored when the patient reaches the review step; if
    they leave without saving, no check-in names it. Files older than
    `older_than` that no check-in references are removed. Returns the count.
    """
    import sqlalchemy as sa

    from diary.checkins.models import CheckIn
    from diary.extensions import db

    cutoff = (now - older_than).timestamp()
    candidates = [p for p in folder().iterdir()
                  if is_stored_name(p.name) and p.stat().st_mtime < cutoff]
    removed = 0
    for start in range(0, len(candidates), 500):
        batch = candidates[start:start + 500]
        kept = set(db.session.execute(
            sa.select(CheckIn.photo_file).where(CheckIn.photo_file.in_([p.name for p in batch]))
        ).scalars())
        for path in batch:
            if path.name not in kept:
                path.unlink(missing_ok=True)
                removed += 1
    return removed
