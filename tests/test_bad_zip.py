"""A zip with what the bad-image corpus cannot hold as files: a real nested zip member and a member
whose name is raw non-UTF-8 bytes (no UTF-8 flag, as old zip tools write them)."""

import io
import zipfile

from PIL import Image

from facegan.config import DataConfig
from facegan.data.cache import prepare

from .badfiles import encode, reference_picture


def _raw_name_zip(path, jpeg: bytes) -> None:
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as zf:
        zf.writestr("face.jpg", jpeg)
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("good.jpg", jpeg)
        zf.writestr("faces/inner.zip", inner.getvalue())     # a zip inside the zip: not read into
        zf.writestr("faces/inner-zip.jpg", inner.getvalue())  # the same, named as an image
        zf.writestr("face-X.jpg", jpeg)
    data = path.read_bytes()
    assert data.count(b"face-X.jpg") == 2  # local header and central directory
    path.write_bytes(data.replace(b"face-X.jpg", b"face-\xff.jpg"))


def test_nested_zip_and_non_utf8_member_name(tmp_path):
    jpeg = encode(Image.fromarray(reference_picture()), "JPEG", quality=95)
    archive = tmp_path / "odd.zip"
    _raw_name_zip(archive, jpeg)
    with zipfile.ZipFile(archive) as zf:
        names = zf.namelist()
    assert "face-\xa0.jpg" in names  # cp437 0xFF: how zipfile reads a name without the UTF-8 flag
    data = prepare(DataConfig(source=str(archive), resolution=32))
    assert data.kept == 2  # good.jpg and the oddly named one
    assert data.skipped == {"not-an-image": 1, "not-an-image-file": 1}, data.skipped
