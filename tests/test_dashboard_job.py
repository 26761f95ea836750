"""The training job seen from the dashboard: two sessions, reloads and Stop, counted in threads and steps."""

import threading

from facegan import job

from .test_pages import page, set_tiny, texts, wait_for


def job_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("facegan-job-") and t.is_alive()]


def test_two_sessions_clicking_start_reloads_and_stop_keep_exactly_one_thread(runs_root):
    a, b = page("pages/train.py"), page("pages/train.py")  # two browser sessions, both showing Start
    for at, name in ((a, "first"), (b, "second")):
        set_tiny(at, epochs=200)
        at.text_input(key="train_run_name").input(name).run()
    a.button(key="train_start").click().run()
    b.button(key="train_start").click().run()  # its page was drawn before the first job existed
    assert not a.exception and not b.exception, (a.exception, b.exception)
    wait_for(lambda: job.status().state == "running" and job.status().step >= 2, "training to run")
    assert len(job_threads()) == 1
    assert job.status().run_dir == str(runs_root / "first")
    assert not (runs_root / "second").exists()
    assert "first" in texts(b, "error")  # the second session is told which run is training
    handle = job.current()

    for _ in range(3):  # page reloads: fresh sessions and re-runs of the old ones
        c = page("pages/train.py")
        a.run()
        assert not c.exception and c.button(key="train_start").disabled
        assert job.current() is handle and len(job_threads()) == 1

    c.button(key="train_stop").click().run()
    asked_at = job.status().step  # stop() has been called by now
    wait_for(lambda: job.status().state == "stopped", "the stop")
    assert job.status().step <= asked_at + 1  # the step in flight finishes, then no more
    handle.join(30)
    assert job_threads() == []  # nothing left running behind the page
