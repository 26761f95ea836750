"""What the configuration form is made of, derived from the config's field metadata (no Streamlit here):
one :class:`FieldSpec` per field saying which widget shows it and with which limits, flat
``{'section.name': value}`` dicts the form edits, and the validation that turns such a dict back into a
:class:`~facegan.config.Config` or into one message per field.
"""

from __future__ import annotations

import math
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from facegan.config import SECTIONS, Config, check_value, coerce, describe_allowed, iter_fields, unwrap_optional
from facegan.errors import ConfigError

SECTION_TITLES = {"data": "Data", "model": "Networks", "tricks": "Tricks", "optim": "Optimiser",
                  "run": "Run"}

# A few names read better spelt out; every other label is the field name with spaces.
LABELS = {
    "lr_g": "G learning rate", "lr_d": "D learning rate", "betas_g": "G Adam betas", "betas_d": "D Adam betas",
    "g_width": "G width", "d_width": "D width", "g_upsample": "G upsampling", "d_norm": "D normalisation",
    "g_spectral": "Spectral norm in G", "d_dropout": "D dropout", "d_noise_std": "D noise std",
    "g_noise_std": "G noise std", "ema": "EMA generator", "ema_decay": "EMA decay", "gp": "Gradient penalty",
    "gp_weight": "Penalty weight", "gp_every": "Penalty every k steps", "d_steps": "D steps per G step",
    "d_batch": "D batches", "flip_p": "Label flip probability", "real_as_fake": "Real shown as fake",
    "flip": "Mirror images", "limit": "Use only first N images", "min_size": "Minimum image size",
    "latent_dim": "Latent size (z)", "synthetic_count": "Built-in faces", "synthetic_seed": "Built-in seed",
    "run_dir": "Run folder", "runs_root": "Runs folder", "sample_count": "Faces per epoch grid",
}


@dataclass(frozen=True)
class FieldSpec:
    key: str            # 'section.name'
    section: str
    name: str
    label: str
    help: str
    kind: str           # 'choice', 'bool', 'int', 'float', 'range', 'pair', 'text'
    optional: bool      # None is allowed (shown as an empty widget)
    choices: tuple | None
    lo: float | None
    hi: float | None
    step: float | None
    group: str
    default: Any
    allowed: str

    @property
    def is_int(self) -> bool:
        return self.kind == "int"

    def part_labels(self) -> tuple[str, str]:
        """Labels of the two numbers of a range or pair."""
        if self.kind == "range":
            return "low", "high"
        if self.name.startswith("betas"):
            return "β1", "β2"
        return "first", "second"


def _step(default, kind: str, hi) -> float | None:
    """How much the +/- buttons of a number change it: small for learning rates, coarse for big
    numbers, hundredths otherwise."""
    if kind == "int":
        return 1
    if kind not in ("float", "range", "pair"):
        return None
    d = abs(default[0] if isinstance(default, tuple) else default or 0.0)
    if 0 < d < 0.01:
        return float(10 ** (math.floor(math.log10(d)) - 1))
    if 0.99 <= d < 1:
        return 0.001
    if d >= 1 and (hi is None or hi > 10):
        return float(10 ** max(0, math.floor(math.log10(d)) - 1))
    return 0.01


def field_specs(section: str) -> list[FieldSpec]:
    out = []
    for f, tp in iter_fields(section):
        meta = f.metadata
        inner, optional = unwrap_optional(tp)
        if meta.get("choices"):
            kind = "choice"
        elif inner is bool:
            kind = "bool"
        elif inner is int:
            kind = "int"
        elif inner is float:
            kind = "float"
        elif typing.get_origin(inner) is tuple:
            kind = "range" if meta.get("ordered") else "pair"
        else:
            kind = "text"
        default = f.default
        allowed = describe_allowed(meta, tp)
        help_text = (f"{meta['help']}\n\nAllowed: {allowed}. Default: {_show(default)}. "
                     f"Setting: `{section}.{f.name}`")
        out.append(FieldSpec(
            key=f"{section}.{f.name}", section=section, name=f.name,
            label=LABELS.get(f.name, f.name.replace("_", " ").capitalize()), help=help_text, kind=kind,
            optional=optional, choices=meta.get("choices"), lo=meta.get("lo"), hi=meta.get("hi"),
            step=_step(default, kind, meta.get("hi")), group=meta.get("group") or "", default=default, allowed=allowed))
    return out


def all_specs() -> list[FieldSpec]:
    return [s for section in SECTIONS for s in field_specs(section)]


def groups(specs: list[FieldSpec]) -> list[tuple[str, list[FieldSpec]]]:
    """Fields by sub-group in order of first appearance; ungrouped fields come first."""
    order: dict[str, list[FieldSpec]] = {"": []}
    for s in specs:
        order.setdefault(s.group, []).append(s)
    return [(g, fs) for g, fs in order.items() if fs]


def _show(v) -> str:
    if v is None:
        return "empty"
    if isinstance(v, tuple):
        return "(" + ", ".join(_show(x) for x in v) + ")"
    if isinstance(v, float):
        return f"{v:g}"
    return repr(v) if isinstance(v, str) else str(v)


# -- flat values <-> Config --------------------------------------------------------------------------

def flatten(cfg: Config) -> dict[str, Any]:
    """``{'preset': ..., 'section.name': value, ...}`` of every field."""
    out: dict[str, Any] = {"preset": cfg.preset}
    for section in SECTIONS:
        obj = getattr(cfg, section)
        for f, _ in iter_fields(section):
            out[f"{section}.{f.name}"] = getattr(obj, f.name)
    return out


def collect(values: dict[str, Any]) -> tuple[Config | None, dict[str, str]]:
    """The validated Config of flat ``values``, or None and ``{'section.name': message}`` of what is
    wrong (each field on its own first; then the rules between fields, reported at the field the
    error names; an error that names no field is under ``''``)."""
    cfg = Config(preset=str(values.get("preset") or "custom"))
    errors: dict[str, str] = {}
    for section in SECTIONS:
        obj = getattr(cfg, section)
        for f, tp in iter_fields(section):
            key = f"{section}.{f.name}"
            if key not in values:
                continue
            value = values[key]
            try:
                if isinstance(value, str) and unwrap_optional(tp)[1] and not value.strip():
                    value = None
                value = coerce(key, value, tp)
                check_value(key, value, f.metadata, tp)
            except ConfigError as e:
                errors[key] = str(e)
                continue
            setattr(obj, f.name, value)
    if errors:
        return None, errors
    try:
        cfg.validate()
    except ConfigError as e:
        return None, {e.field if e.field in values else "": str(e)}
    return cfg, {}


# -- data sources as the Data page offers them --------------------------------------------------------

SOURCE_KINDS = {
    "synthetic": "Built-in faces",
    "folder": "A folder or zip on this computer",
    "upload": "Upload a zip",
    "celeba": "CelebA",
    "ffhq": "FFHQ",
}


def source_string(kind: str, path: str) -> str:
    """``data.source`` for a kind and a path typed or uploaded."""
    path = (path or "").strip()
    if kind == "synthetic":
        return "synthetic"
    if kind in ("celeba", "ffhq"):
        return f"{kind}:{path}" if path else ""
    return path


def parse_source(source: str, uploads: Path | None = None) -> tuple[str, str]:
    """(kind, path) of a ``data.source`` value: the inverse of :func:`source_string`."""
    s = (source or "").strip()
    if s.lower() in ("synthetic", "builtin", "built-in"):
        return "synthetic", ""
    head, sep, rest = s.partition(":")
    if sep and head.lower() in ("celeba", "ffhq"):
        return head.lower(), rest
    if sep and head.lower() in ("folder", "zip"):
        s = rest
    if uploads is not None and s:
        try:
            if Path(s).expanduser().resolve().parent == Path(uploads).expanduser().resolve():
                return "upload", s
        except OSError:
            pass
    return "folder", s
