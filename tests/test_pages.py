"""Every dashboard page in Streamlit's AppTest: widgets present, validation messages where the bad value
is, training started, watched, paused, stopped and resumed through the Train page, a finished run
explored, runs renamed and deleted, and a quick evaluation.

Training runs are tiny (32 px, 64 built-in faces, batch 16, widths 8: 4 steps an epoch). AppTest does
not fire ``st.fragment(run_every=...)`` by itself, so the tests call ``run()`` again to see progress.
"""

import json
from pathlib import Path

import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from facegan import job
from facegan.training.run_dir import RunDir

from . import helpers
from .helpers import ROOT, tiny

DEADLINE = 90.0
TIMEOUT = 60  # seconds a single AppTest run may take (first imports are slow on a busy machine)


def wait_for(predicate, what: str, timeout: float = DEADLINE):
    return helpers.wait_for(predicate, what, timeout)


def page(path: str | None = None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT).run()
    assert not at.exception, at.exception
    if path:
        at.switch_page(path).run()
        assert not at.exception, at.exception
    return at


def texts(at: AppTest, kind: str) -> str:
    return "\n".join(str(e.value) for e in at.get(kind))


def set_tiny(at: AppTest, epochs: int) -> None:
    at.selectbox(key="cfg.data.resolution").set_value(32)
    for key, value in {"data.synthetic_count": 64, "optim.batch_size": 16, "model.g_width": 8,
                       "model.d_width": 8, "run.epochs": epochs, "run.log_every": 1}.items():
        at.number_input(key=f"cfg.{key}").set_value(value)
    at.run()
    assert not at.exception, at.exception


# -- Home -------------------------------------------------------------------------------------------------

def test_home_has_shortcuts_and_the_idle_job(runs_root):
    at = page()
    assert at.title[0].value == "facegan"
    links = {link.label for link in at.get("page_link")}
    assert "Explore a finished run" in links
    assert "Nothing is training yet" in texts(at, "caption")
    # The main shortcut switches the data back to the built-in faces and opens Train.
    at.switch_page("pages/data.py").run()
    at.radio(key="data_kind").set_value("folder").run()
    at.text_input(key="data_path").input("/somewhere/else").run()
    at.switch_page("app.py").run()
    assert at.session_state["fg_config"]["data.source"] == "/somewhere/else"
    # The page's own choices are kept apart from the configuration (which is all config fields).
    assert at.session_state["fg_ui"]["data_kind"] == "folder"
    assert at.session_state["fg_ui"]["data_path.folder"] == "/somewhere/else"
    assert all(k == "preset" or "." in k and not k.startswith("ui.") for k in at.session_state["fg_config"])
    at.button(key="home_train").click().run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Train"
    assert at.text_input(key="cfg.data.source").value == "synthetic"
    # ... with the first-run preset: 32 px, 60 epochs (a few minutes that end on faces)
    assert at.selectbox(key="train_preset").value == "first-faces"
    assert at.selectbox(key="cfg.data.resolution").value == 32
    assert at.number_input(key="cfg.run.epochs").value == 60


# -- Data ---------------------------------------------------------------------------------------------------

def test_data_page_prepares_built_in_faces_and_carries_them_to_train(runs_root):
    at = page("pages/data.py")
    assert at.radio(key="data_kind").value == "synthetic"
    assert len(at.get("image")) == 1  # the instant look at the built-in faces
    at.number_input(key="data_page.data.synthetic_count").set_value(64)
    at.selectbox(key="data_page.data.resolution").set_value(32).run()
    at.button[0].click().run()  # Prepare and check
    assert not at.exception, at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Faces kept"] == "64" and metrics["Files skipped"] == "0"
    assert "No file was skipped" in texts(at, "caption")

    at.switch_page("pages/train.py").run()
    assert at.number_input(key="cfg.data.synthetic_count").value == 64
    assert at.selectbox(key="cfg.data.resolution").value == 32


def test_data_page_looks_closer_and_trains_on_the_groups_kept(runs_root):
    at = page("pages/data.py")
    at.number_input(key="data_page.data.synthetic_count").set_value(64)
    at.selectbox(key="data_page.data.resolution").set_value(32).run()
    at.button[0].click().run()  # Prepare and check
    at.button(key="look_closer").click().run()
    assert not at.exception, at.exception
    groups = [c for c in at.checkbox if c.key.startswith("look_group_")]
    assert len(groups) >= 8 and all(c.value for c in groups)
    assert {m.label: m.value for m in at.metric}["Faces kept"].endswith("of 64")
    at.checkbox(key="look_group_1").uncheck().run()
    dropped = set(at.session_state["curation"].clusters[0]["indices"])
    kept = {m.label: m.value for m in at.metric}["Faces kept"]
    at.button(key="look_train").click().run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Train"
    subset = at.session_state["fg_config"]["data.subset"]
    keep = json.loads(Path(subset).read_text())["keep"]
    assert kept == f"{len(keep)} of 64" and not dropped & set(keep)
    assert at.text_input(key="cfg.data.subset").value == subset
    assert "only the faces chosen" in texts(at, "caption")
    at.switch_page("pages/data.py").run()
    at.button[0].click().run()  # the closer look is still there, saying a selection is in use
    assert "Training uses a selection" in texts(at, "info")
    next(b for b in at.button if b.label == "Use all faces").click().run()
    assert at.session_state["fg_config"]["data.subset"] is None


def test_data_page_counts_skipped_files_with_reasons(runs_root, tmp_path):
    import numpy as np
    from PIL import Image
    folder = tmp_path / "faces"
    folder.mkdir()
    for i in range(3):
        Image.fromarray(np.full((40, 40, 3), 60 * i, np.uint8)).save(folder / f"face{i}.png")
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "notes.txt").write_text("not a face")

    at = page("pages/data.py")
    at.radio(key="data_kind").set_value("folder").run()
    at.text_input(key="data_path").input(str(tmp_path / "nowhere")).run()
    assert "Nothing found at" in texts(at, "error")
    at.text_input(key="data_path").input(str(folder)).run()
    at.selectbox(key="data_page.data.resolution").set_value(32).run()
    at.button[0].click().run()
    assert not at.exception, at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Faces kept"] == "3" and metrics["Files skipped"] == "2"
    table = at.dataframe[0].value
    assert set(table["files"]) == {1} and "empty.jpg" in " ".join(table["examples"])


def test_data_page_checks_an_uploaded_zip_before_using_it(runs_root):
    import io
    import zipfile

    from dashboard.settings import uploads_root
    from facegan.data.synthetic import render_face
    from facegan.images import png_bytes

    def zipped(members: dict) -> bytes:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            for name, data in members.items():
                zf.writestr(name, data)
        return buf.getvalue()

    at = page("pages/data.py")
    at.radio(key="data_kind").set_value("upload").run()
    at.file_uploader(key="data_upload").upload("evil.zip", zipped({"../../evil.png": b"x"}), "application/zip").run()
    assert "'..' path component" in texts(at, "error")
    assert not list(uploads_root().glob("*evil*"))

    faces = {f"faces/{i}.png": png_bytes(render_face(i, 40, 1)) for i in range(6)}
    at.file_uploader(key="data_upload").set_value(("my faces.zip", zipped(faces), "application/zip")).run()
    assert not at.exception, at.exception
    assert "6 image files" in texts(at, "success")
    at.selectbox(key="data_page.data.resolution").set_value(32).run()
    at.button[0].click().run()
    assert {m.label: m.value for m in at.metric}["Faces kept"] == "6"
    at.switch_page("pages/train.py").run()
    source = at.text_input(key="cfg.data.source").value
    assert source.startswith(str(uploads_root())) and source.endswith("-my_faces.zip")


# -- Train --------------------------------------------------------------------------------------------------

def test_train_form_has_every_setting_and_presets(runs_root):
    from dashboard.forms import all_specs
    at = page("pages/train.py")
    for spec in all_specs():
        keys = [f"cfg.{spec.key}.0", f"cfg.{spec.key}.1"] if spec.kind in ("range", "pair") else [f"cfg.{spec.key}"]
        for key in keys:
            assert at.get_by_key(key) is not None, f"no widget for {spec.key}"
    assert [t.label for t in at.tabs] == ["Data", "Networks", "Tricks", "Optimiser", "Run"]
    assert len(at.dataframe) == 2  # generator and discriminator layers
    # The page opens on the recommended preset (faces-64: spectral norm in D, EMA, adaptive DiffAugment).
    assert at.selectbox(key="train_preset").value == "faces-64"
    assert at.selectbox(key="cfg.model.d_norm").value == "spectral"
    assert at.number_input(key="cfg.tricks.real_label.0").value == pytest.approx(0.9)
    assert at.checkbox(key="cfg.model.ema").value is True
    assert at.checkbox(key="cfg.tricks.augment_adaptive").value is True
    at.selectbox(key="train_preset").set_value("dcgan-paper").run()
    assert at.selectbox(key="cfg.model.d_norm").value == "batch"
    assert at.number_input(key="cfg.tricks.real_label.0").value == pytest.approx(1.0)
    assert at.checkbox(key="cfg.model.ema").value is False


def test_train_shows_validation_messages_at_the_field(runs_root):
    at = page("pages/train.py")
    at.number_input(key="cfg.model.d_dropout").set_value(1.0).run()
    errors = texts(at, "error")
    assert "model.d_dropout: got 1.0; allowed: a number >= 0 and < 1" in errors
    assert at.button(key="train_start").disabled

    at.number_input(key="cfg.model.d_dropout").set_value(0.0).run()
    assert not at.error and not at.button(key="train_start").disabled
    # A rule between fields: label smoothing needs the BCE loss; the message names the loss field.
    at.number_input(key="cfg.tricks.real_label.0").set_value(0.9)
    at.number_input(key="cfg.tricks.real_label.1").set_value(0.9)
    at.selectbox(key="cfg.optim.loss").set_value("hinge").run()
    assert "optim.loss: got 'hinge'; allowed: 'bce' when label tricks" in texts(at, "error")
    assert at.button(key="train_start").disabled
    # A (low, high) range given the wrong way round.
    at.selectbox(key="cfg.optim.loss").set_value("bce")
    at.number_input(key="cfg.tricks.real_label.0").set_value(1.0)
    at.number_input(key="cfg.tricks.real_label.1").set_value(0.95).run()
    assert "tricks.real_label: got (1.0, 0.95); allowed: a (low, high) pair with low <= high" in texts(at, "error")
    # Text fields too, and a run name that would escape the runs folder.
    at.number_input(key="cfg.tricks.real_label.0").set_value(0.95).run()
    at.text_input(key="train_run_name").input("../elsewhere").run()
    assert "must be a plain name" in texts(at, "error") and at.button(key="train_start").disabled


def test_train_start_watch_pause_stop_and_resume(runs_root):
    at = page("pages/train.py")
    set_tiny(at, epochs=200)
    at.text_input(key="train_run_name").input("first").run()
    at.button(key="train_start").click().run()
    assert not at.exception, at.exception
    wait_for(lambda: job.status().state == "running" and job.status().step >= 3, "training to run")
    assert job.status().run_dir == str(runs_root / "first")
    at.run()  # what run_every would do
    assert at.button(key="train_start").disabled  # one job at a time
    assert at.get("plotly_chart"), "no loss curves"
    assert "Training" in texts(at, "markdown") or job.status().state != "running"

    at.button(key="train_pause").click().run()
    wait_for(lambda: job.status().parked, "the pause")
    at.run()
    assert at.button(key="train_resume").label == "Resume"
    at.button(key="train_resume").click().run()
    wait_for(lambda: job.status().state == "running", "training to go on")
    at.run()
    at.button(key="train_stop").click().run()
    wait_for(lambda: job.status().state == "stopped", "the stop")
    at.run()
    assert not at.button(key="train_start").disabled
    assert "Stopped" in texts(at, "markdown")
    stopped_at = job.status().step

    # Continue it from the expander, to the end of the epoch after the one it stopped in.
    at.selectbox(key="train_resume_run").set_value("first").run()
    until = stopped_at // 4 + 2
    at.number_input(key="train_resume_epochs.first").set_value(until).run()
    at.button(key="train_continue").click().run()
    assert not at.exception, at.exception
    wait_for(lambda: job.status().state == "finished", "the resumed run to finish")
    s = job.status()
    assert s.run_dir == str(runs_root / "first") and s.epoch == until and s.step == until * 4
    at.run()
    assert at.get("plotly_chart") and at.get("image"), "no curves or epoch grid after the run"
    assert "Finished" in texts(at, "markdown")
    assert at.select_slider(key=f"train_grid_epoch.{until}").value == until  # follows the newest epoch


@pytest.mark.slow
def test_train_offers_gpus_where_there_are_several_and_trains_with_torchrun(runs_root, monkeypatch):
    from facegan import devices
    assert "train_gpus" not in [n.key for n in page("pages/train.py").number_input]  # no GPUs here: no choice
    monkeypatch.setattr(devices, "gpu_count", lambda: 2)  # as on a 2-GPU machine (gloo CPU processes train)
    at = page("pages/train.py")
    set_tiny(at, epochs=2)
    at.text_input(key="cfg.run.device").input("cpu").run()
    assert at.number_input(key="train_gpus").value == 2  # all of them, by default
    at.number_input(key="cfg.optim.batch_size").set_value(15).run()
    assert "must divide evenly among the 2 processes" in texts(at, "error") and at.button(key="train_start").disabled
    at.number_input(key="cfg.optim.batch_size").set_value(16)
    at.text_input(key="train_run_name").input("two").run()
    at.button(key="train_start").click().run()
    assert not at.exception, at.exception
    assert job.status().processes == 2 and job.status().run_dir == str(runs_root / "two")
    wait_for(lambda: job.status().state in job.END_STATES, "the torchrun job to end", timeout=240)
    assert job.status().state == "finished", job.status().error
    at.run()
    assert "Finished" in texts(at, "markdown") and at.get("plotly_chart") and at.get("image")
    assert at.select_slider(key="train_grid_epoch.2").value == 2
    at.selectbox(key="train_resume_run").set_value("two").run()
    assert at.number_input(key="train_resume_gpus").value == 2  # a resume may use the GPUs too


def test_train_shows_why_a_job_failed(runs_root, tmp_path):
    at = page("pages/train.py")
    at.text_input(key="cfg.data.source").input(str(tmp_path / "no-such-faces")).run()
    at.button(key="train_start").click().run()
    wait_for(lambda: job.status().state == "failed", "the job to fail")
    at.run()
    assert "does not exist" in texts(at, "error") and "Failed" in texts(at, "markdown")
    assert not at.button(key="train_start").disabled


def test_train_refuses_a_subset_written_for_other_faces(runs_root, tmp_path):
    from facegan.data.subset import write_subset
    other = tmp_path / "other.json"
    write_subset(other, "0123456789abcdef0123", 10, [1, 2])
    at = page("pages/train.py")
    set_tiny(at, 1)
    at.text_input(key="cfg.data.subset").input(str(other)).run()
    at.button(key="train_start").click().run()
    wait_for(lambda: job.status().state == "failed", "the job to fail")
    at.run()
    assert "written for data set 0123456789abcdef0123" in texts(at, "error")
    assert not list(runs_root.iterdir())  # no run folder: nothing was trained on the wrong faces


def test_job_messages_show_warnings_once_and_the_error_with_details():
    def script():
        from dashboard.job_panel import job_messages
        from facegan.job import JobStatus
        job_messages(JobStatus(state="failed", warnings=("D is winning", "D is winning", "mode collapse"),
                               error="RuntimeError: boom\n\nTraceback (most recent call last): ..."))

    at = AppTest.from_function(script, default_timeout=TIMEOUT).run()
    assert [w.value for w in at.warning] == ["D is winning", "mode collapse"]
    assert at.error[0].value == "RuntimeError: boom"
    assert "Traceback" in at.code[0].value


def test_the_epoch_grid_follows_the_newest_epoch_until_the_person_slides_back(tmp_path):
    def script():
        import streamlit as st

        from dashboard.job_panel import epoch_grid
        epoch_grid(st.session_state["grid_run"], key="g")

    def new_epochs(*epochs: int) -> None:
        for e in epochs:
            Image.new("RGB", (8, 8)).save(tmp_path / "samples" / f"epoch_{e:04d}.png")

    def shown(at: AppTest) -> tuple[int, int]:
        caption = at.get("image")[0].proto.imgs[0].caption
        return at.select_slider[0].value, int(caption.split()[3])

    (tmp_path / "samples").mkdir()
    new_epochs(1, 2, 3)
    at = AppTest.from_function(script, default_timeout=TIMEOUT)
    at.session_state["grid_run"] = str(tmp_path)
    assert shown(at.run()) == (3, 3)
    new_epochs(4)
    assert shown(at.run()) == (4, 4)  # follows
    at.select_slider[0].set_value(2).run()
    assert shown(at) == (2, 2)
    new_epochs(5, 6)
    assert shown(at.run()) == (2, 2)  # the person's epoch stays
    at.select_slider[0].set_value(6).run()
    new_epochs(7)
    assert shown(at.run()) == (7, 7)  # slid to the newest: follows again
    assert not at.exception


def test_a_second_session_sees_the_same_job(runs_root):
    job.start(tiny("epochs=2", f"run_dir={runs_root / 'other'}"))
    wait_for(lambda: job.status().state == "finished", "the run")
    home = page()
    assert "Latest training" in texts(home, "subheader") and "other" in texts(home, "caption")
    assert len(home.get("image")) == 2  # the latest grid beside the built-in faces
    train_page = page("pages/train.py")
    assert "Finished" in texts(train_page, "markdown") and train_page.get("plotly_chart")


# -- the demo generator -----------------------------------------------------------------------------------

@pytest.fixture
def demo(runs_root, trained, tmp_path, monkeypatch) -> Path:
    """A stand-in for the shipped demo file: the tiny run's generator, exported."""
    from facegan.export import export_generator
    path = export_generator(trained, tmp_path / "demo" / "celeba-64.safetensors")
    monkeypatch.setenv("FACEGAN_DEMO", str(path))
    return path


def test_home_shows_demo_faces_and_new_ones_on_a_click(demo):
    at = page()
    assert "Faces invented by the demo network" in texts(at, "subheader")
    strip = at.get("image")[0].proto.imgs[0].url
    at.button(key="home_demo_new").click().run()
    assert not at.exception, at.exception
    assert at.session_state["home_demo_seed"] != 0 and at.get("image")[0].proto.imgs[0].url != strip


@pytest.mark.parametrize("damage", ["missing", "truncated"])
def test_a_missing_or_damaged_demo_is_one_line_on_home_and_nothing_else_breaks(demo, damage):
    if damage == "missing":
        demo.unlink()
    else:
        demo.write_bytes(demo.read_bytes()[:200])
    at = page()
    lines = [c for c in texts(at, "caption").splitlines() if "demo generator" in c]
    assert len(lines) == 1 and ("missing" in lines[0] or "cannot be loaded" in lines[0]), lines
    assert at.button(key="home_train") is not None
    for path in ("pages/explore.py", "pages/evaluate.py"):
        assert any(link.label == "Go to Train" for link in page(path).get("page_link")), path


def test_explore_and_evaluate_list_the_demo_first_and_runs_leaves_it_alone(demo, with_run):
    at = page("pages/explore.py")
    picker = at.selectbox(key="explore_run")
    assert picker.options[0].startswith("Demo: CelebA 64 px") and picker.value == "Demo: CelebA 64 px"
    assert len(at.get("image")) >= 2  # the demo's faces and morphs
    at = page("pages/evaluate.py")
    assert at.selectbox(key="eval_run").options[0].startswith("Demo: CelebA 64 px")
    at = page("pages/runs.py")
    assert "Demo" not in texts(at, "markdown") + str([s.options for s in at.get("selectbox")])
    assert demo.is_file()


# -- Explore ----------------------------------------------------------------------------------------------

def test_explore_draws_faces_walks_and_offers_downloads(with_run):
    at = page("pages/explore.py")
    assert at.selectbox(key="explore_run").value == "tiny"
    assert at.selectbox(key="explore_ckpt.tiny").options[0] == "latest (last)"
    captions = " | ".join(i.proto.imgs[0].caption for i in at.get("image"))
    for shown in ("invented faces (seed 0)", "Each row: one face morphing into another",
                  "The same faces after every epoch of training"):  # the faces, the morphs, the GIF
        assert shown in captions
    before = at.number_input(key="explore_seed").value
    at.button(key="explore_new").click().run()
    assert at.number_input(key="explore_seed").value != before
    at.radio(key="explore_mode").set_value("2d").run()
    at.radio(key="explore_path").set_value("lerp").run()
    assert not at.exception, at.exception
    labels = {b.label for b in at.get("download_button")}
    assert {"Faces (PNG)", "Morphs (PNG)", "Training GIF", "Generator (.safetensors)"} <= labels


def test_explore_studio_a_face_up_close_sliders_and_a_video(with_run):
    at = page("pages/explore.py")
    assert not at.exception, at.exception

    def image_urls():
        return [i.proto.imgs[0].url for i in at.get("image")]

    # One face up close, 4x, and more like it.
    at.number_input(key="explore_pick").set_value(3).run()
    assert "Face 3, 4 times larger" in [i.proto.imgs[0].caption for i in at.get("image")]
    before = image_urls()
    at.radio(key="explore_enlarge").set_value("smooth").run()
    at.slider(key="explore_spread").set_value(0.8).run()
    at.button(key="explore_like_new").click().run()
    assert not at.exception, at.exception
    assert len(set(image_urls()) - set(before)) >= 2  # the smooth face and the other neighbours
    assert {"Download this face"} <= {b.label for b in at.get("download_button")}
    at.number_input(key="explore_pick").set_value(30).run()
    at.selectbox(key="explore_n").set_value(16).run()  # fewer faces than the number picked
    assert not at.exception, at.exception
    assert at.number_input(key="explore_pick").value == 16

    # Face sliders: cached beside the checkpoint; a slider moves the face; a name is kept with the run.
    assert (with_run / "directions" / "last.npz").is_file()
    shown = image_urls()
    at.slider(key="explore_slider.0").set_value(2.5).run()
    assert not at.exception, at.exception
    assert image_urls() != shown
    name_key = next(t.key for t in at.get("text_input") if t.key.startswith("explore_name.") and t.key.endswith(".0"))
    at.text_input(key=name_key).input("smile").run()
    assert json.loads((with_run / "directions" / "last.names.json").read_text())["names"][0] == "smile"
    at.button(key="explore_slider_reset").click().run()
    assert at.slider(key="explore_slider.0").value == 0.0

    # A looping video, made and offered for download.
    at.radio(key="explore_video_format").set_value(".gif").run()
    at.slider(key="explore_video_seconds").set_value(3).run()
    at.button(key="explore_video_make").click().run()
    assert not at.exception, at.exception
    assert "Download the GIF" in {b.label for b in at.get("download_button")}


def test_a_game_of_real_or_fake_is_played_logged_and_scored_on_evaluate(with_run):
    at = page("pages/explore.py")
    at.button(key="explore_game_start").click().run()
    game = at.session_state["explore_game.tiny"]
    for r in range(game.rounds):
        assert f"Round {r + 1} of 10." in texts(at, "markdown")
        # Pick the real face as the invented one in the first three rounds (fooled), then the fake.
        real = game.real_sides[r]
        side = real if r < 3 else ("left" if real == "right" else "right")
        at.button(key=f"explore_game_{side}").click().run()
        assert not at.exception, at.exception
    assert "You spotted the invented face in **7 of 10** rounds." in texts(at, "success")
    log = [json.loads(line) for line in (with_run / "eval" / "human.jsonl").read_text().splitlines()]
    assert [r["round"] for r in log] == list(range(10)) and sum(r["fooled"] for r in log) == 3
    at = page("pages/evaluate.py")
    fooled = next(m for m in at.get("metric") if m.label == "People fooled")
    assert fooled.value == "30%" and "3 of 10 rounds in 1 game" in texts(at, "caption")


def test_explore_and_evaluate_without_runs_point_to_train(runs_root):
    for path in ("pages/explore.py", "pages/evaluate.py", "pages/runs.py"):
        at = page(path)
        assert any(link.label == "Go to Train" for link in at.get("page_link")), path


# -- Runs ---------------------------------------------------------------------------------------------------

def test_runs_lists_compares_renames_and_deletes_with_confirmation(with_run, runs_root):
    at = page("pages/runs.py")
    table = at.dataframe[0].value
    assert list(table["run"]) == ["tiny"] and table["epochs"][0] == "2 / 2" and table["state"][0] == "finished"
    assert at.get("plotly_chart")  # the comparison chart

    at.text_input(key="runs_new_name").input("../escape").run()
    at.button(key="runs_rename").click().run()
    assert "must be a plain name" in texts(at, "error") and (runs_root / "tiny").is_dir()

    at.text_input(key="runs_new_name").input("baseline").run()
    at.button(key="runs_rename").click().run()
    assert not at.exception, at.exception
    assert (runs_root / "baseline").is_dir() and not (runs_root / "tiny").exists()
    assert list(at.dataframe[0].value["run"]) == ["baseline"]

    at.button(key="runs_delete").click().run()
    assert "cannot be undone" in texts(at, "warning")
    at.button(key="runs_delete_no").click().run()  # cancel keeps it
    assert (runs_root / "baseline").is_dir()
    at.button(key="runs_delete").click().run()
    at.button(key="runs_delete_yes").click().run()
    assert not (runs_root / "baseline").exists()
    assert any(link.label == "Go to Train" for link in at.get("page_link"))


def test_runs_will_not_touch_the_live_run(runs_root):
    handle = job.start(tiny("epochs=500", f"run_dir={runs_root / 'live'}"))
    wait_for(lambda: job.status().run_dir and RunDir(runs_root / "live").config_path.is_file(), "the run folder")
    at = page("pages/runs.py")
    assert at.selectbox(key="runs_manage").value == "live"
    assert at.button(key="runs_rename").disabled and at.button(key="runs_delete").disabled
    assert at.dataframe[0].value["state"][0] == "training now"
    handle.stop(wait=DEADLINE)


# -- Evaluate -------------------------------------------------------------------------------------------------

def test_evaluate_measures_with_lite0_and_explains(with_run):
    at = page("pages/evaluate.py")
    assert "No measurements of this run yet" in texts(at, "info")
    assert at.radio(key="eval_features").value == "lite0"
    at.select_slider(key="eval_n").set_value(64).run()
    at.button(key="eval_go").click().run(timeout=240)
    assert not at.exception, at.exception
    labels = {m.label for m in at.metric}
    assert {"FID", "KID", "1-NN accuracy", "precision", "recall"} <= labels
    captions = texts(at, "caption")
    assert "Lower is better" in captions and "coin toss" in captions  # the registry's explanations
    assert len(at.get("plotly_chart")) >= 1  # the t-SNE map
    assert at.get("image"), "no nearest-neighbour pairs"
    assert list((with_run / "eval").glob("*.json"))
    at.switch_page("pages/runs.py").run()
    table = at.dataframe[0].value
    assert table["FID"][0] > 0 and table["scored with"][0] == "lite0, 64 faces"


def test_the_demo_is_measured_against_celeba_and_keeps_its_measurement_beside_it(demo, celeba_zip, monkeypatch):
    monkeypatch.setenv("FACEGAN_CELEBA_ZIP", str(celeba_zip))
    at = page("pages/evaluate.py")
    assert at.selectbox(key="eval_run").value == "Demo: CelebA 64 px"
    at.select_slider(key="eval_n").set_value(64).run()
    at.button(key="eval_go").click().run(timeout=240)
    assert not at.exception, at.exception
    assert "FID" in {m.label for m in at.metric}
    (saved,) = (demo.parent / "eval").glob("*.json")
    import json
    assert json.loads(saved.read_text())["data"]["source"].endswith(celeba_zip.name)
    assert at.get("image"), "no nearest-neighbour pairs (real CelebA faces beside generated ones)"
