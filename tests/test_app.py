"""The dashboard's entry point: ``streamlit run app.py`` opens Home, and every page loads from it."""

import pytest
from streamlit.testing.v1 import AppTest

from .helpers import ROOT

PAGES = ["pages/data.py", "pages/train.py", "pages/explore.py", "pages/evaluate.py", "pages/runs.py"]


@pytest.fixture(autouse=True)
def _empty_runs_root(runs_root):
    pass


def test_home_page_renders_without_exception():
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    assert not at.exception, at.exception
    assert at.title[0].value == "facegan"
    assert len(at.get("image")) == 1
    at.number_input(key="home_seed").set_value(7).run()
    assert not at.exception


def test_every_page_opens_out_of_the_box():
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    for page in PAGES:
        at.switch_page(page).run()
        assert not at.exception, (page, at.exception)
        assert at.title[0].value == page.split("/")[1][:-3].capitalize()
