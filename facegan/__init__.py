"""facegan: a face-generation workbench built on DCGAN.

The core package: data sources and their cache (``facegan.data``), configuration (``facegan.config``,
``facegan.presets``), networks (``facegan.models``), training (``facegan.training``) and the command
line (``python -m facegan``). The Streamlit dashboard (``app.py``, ``pages/``) sits on top of it.
"""

__version__ = "0.1.0"
