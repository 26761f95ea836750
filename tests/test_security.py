"""The dashboard's server settings, and names typed into its pages that try to leave the runs folder."""

import tomllib

import pytest

from facegan.data import uploads

from .helpers import ROOT


def test_streamlit_serves_locally_with_xsrf_and_the_upload_cap_of_the_uploads_module():
    server = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())["server"]
    assert server["address"] == "127.0.0.1"
    assert server["enableXsrfProtection"] is True
    # Streamlit counts maxUploadSize in MB of 2**20 bytes; the uploads module refuses the same size
    assert server["maxUploadSize"] * 2**20 == uploads.MAX_ZIP_BYTES <= 4 * 2**30


def test_an_upload_one_byte_over_the_cap_is_refused_before_extraction(tmp_path):
    import zipfile
    archive = tmp_path / "faces.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("a.png", b"x" * 100)
    size = archive.stat().st_size
    assert uploads.check_zip(archive, max_bytes=size).images == 1
    with pytest.raises(uploads.FaceganError, match="may be uploaded"):
        uploads.check_zip(archive, max_bytes=size - 1)


ESCAPES = ["../escape", "../../etc", "/tmp/abs", "a/../../b", "..", ".hidden", "C:\\x", "x\\..\\..\\y"]


@pytest.mark.parametrize("name", ESCAPES)
def test_run_names_typed_into_train_and_runs_cannot_leave_the_runs_folder(with_run, runs_root, name):
    from .test_pages import page, texts
    around = sorted(p.name for p in runs_root.parent.iterdir())
    at = page("pages/train.py")
    at.text_input(key="train_run_name").set_value(name).run()
    assert not at.exception, at.exception
    assert texts(at, "error"), f"no error for run name {name!r}"
    at = page("pages/runs.py")
    at.text_input(key="runs_new_name").set_value(name).run()
    at.button(key="runs_rename").click().run()
    assert not at.exception, at.exception
    assert texts(at, "error"), f"no error for new name {name!r}"
    assert sorted(p.name for p in runs_root.iterdir()) == ["tiny"]  # nothing moved or created
    assert sorted(p.name for p in runs_root.parent.iterdir()) == around
