"""Shared pieces of the Streamlit dashboard (``app.py`` and ``pages/``): settings, the configuration
form, pickers, the training status panel and the Plotly charts. Only arrangement lives here; every
number and image comes from :mod:`facegan`."""
