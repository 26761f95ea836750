from streamlit.testing.v1 import AppTest

from .conftest import ROOT


def test_home_page_renders_without_exception():
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    assert not at.exception, at.exception
    assert at.title[0].value == "facegan"
    assert len(at.get("image")) == 1
    at.number_input(key="home_seed").set_value(7).run()
    assert not at.exception
