"""facegan.data.uploads: an uploaded zip is checked (traversal, bombs, size, images) before it is kept."""

import io
import zipfile

import numpy as np
import pytest
from PIL import Image

from facegan.data.uploads import check_zip, safe_stem, save_upload, unsafe_member
from facegan.errors import FaceganError


def zip_bytes(members: dict[str, bytes], compression=zipfile.ZIP_STORED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def png() -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.zeros((20, 20, 3), np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


@pytest.mark.parametrize("name, bad", [("faces/a.png", False), ("a..b.png", False), ("../a.png", True),
                                       ("faces/../../a.png", True), ("/etc/a.png", True), ("C:/a.png", True),
                                       ("..\\a.png", True), ("\\\\server\\a.png", True)])
def test_unsafe_member_names(name, bad):
    assert (unsafe_member(name) is not None) == bad


def test_a_good_zip_is_kept_once_under_a_content_name(tmp_path):
    data = zip_bytes({"faces/a.png": png(), "faces/b.png": png(), "readme.txt": b"hi"})
    path, report = save_upload("My Faces (2).zip", data, tmp_path)
    assert path.parent == tmp_path and path.name.endswith("-My_Faces_2.zip") and path.read_bytes() == data
    assert (report.members, report.images) == (3, 2)
    again, _ = save_upload("other.zip", io.BytesIO(data), tmp_path)
    assert again.read_bytes() == data
    assert sorted(p.suffix for p in tmp_path.iterdir()) == [".zip", ".zip"]  # no partial files left


@pytest.mark.parametrize("members, fragment", [
    ({"../evil.png": b"x"}, "'..' path component"),
    ({"/abs.png": b"x"}, "absolute path"),
    ({"notes.txt": b"x"}, "no image files"),
])
def test_unsafe_or_useless_zips_are_refused_and_not_kept(tmp_path, members, fragment):
    with pytest.raises(FaceganError, match=fragment):
        save_upload("x.zip", zip_bytes(members), tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_bombs_size_and_non_zips_are_refused(tmp_path):
    bomb = zip_bytes({"a.png": b"\0" * (8 * 2**20)}, zipfile.ZIP_DEFLATED)
    (tmp_path / "bomb.zip").write_bytes(bomb)
    with pytest.raises(FaceganError, match="zip bomb"):
        check_zip(tmp_path / "bomb.zip")
    (tmp_path / "big.zip").write_bytes(zip_bytes({"a.png": png()}))
    with pytest.raises(FaceganError, match="at most"):
        check_zip(tmp_path / "big.zip", max_bytes=10)
    with pytest.raises(FaceganError, match="uncompressed"):
        check_zip(tmp_path / "big.zip", max_uncompressed=10)
    (tmp_path / "not.zip").write_bytes(b"hello")
    with pytest.raises(FaceganError, match="not a readable zip"):
        check_zip(tmp_path / "not.zip")


def test_safe_stem():
    assert safe_stem("../../etc/passwd.zip") == "passwd"
    assert safe_stem("C:\\Users\\me\\faces.zip") == "faces"
    assert safe_stem("...zip") == "upload"
