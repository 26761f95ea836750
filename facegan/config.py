"""The one typed configuration of a facegan run.

Five sections (data, model, tricks, optim, run), each a dataclass whose fields carry their own help text
and limits in ``metadata``; the dashboard builds its forms from that metadata and the command line
validates against it, so a limit is written once. Values are checked once, at the edge
(:meth:`Config.validate`), and an error names the field, the bad value and what is allowed.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Optional

from .errors import ConfigError

RESOLUTIONS = (32, 64, 128)
NOISE_SCHEDULES = ("constant", "linear", "cyclic", "off_after")
AUGMENT_OPS = ("color", "translation", "cutout")  # facegan.training.augment implements each


def opt(default: Any, help: str, *, choices: tuple | None = None, lo: float | None = None,
        hi: float | None = None, hi_open: bool = False, ordered: bool = False, group: str = ""):
    """A config field with its help and limits.

    ``lo``/``hi`` bound numbers (and each element of a tuple); ``hi_open`` makes ``hi`` exclusive;
    ``ordered`` requires a tuple's elements to be non-decreasing (a ``(low, high)`` range);
    ``group`` lets the dashboard place the field under a sub-heading.
    """
    meta = {"help": help, "choices": choices, "lo": lo, "hi": hi, "hi_open": hi_open,
            "ordered": ordered, "group": group}
    return field(default=default, metadata=meta)


@dataclass
class DataConfig:
    """Which faces to learn from and how they are prepared."""

    source: str = opt("synthetic", "Where the faces come from: 'synthetic' (built in, no download), a "
                      "folder or .zip of images, or 'celeba:PATH' / 'ffhq:PATH' to force a layout.")
    resolution: int = opt(64, "Side of the square images, in pixels. The networks' depth follows it.",
                          choices=RESOLUTIONS)
    crop: str = opt("auto", "How a non-square image becomes square: 'center' (largest centred square), "
                    "'face' (tight square around the face of CelebA-aligned images), 'none' (squash), "
                    "'auto' ('face' for CelebA, 'center' otherwise).",
                    choices=("auto", "center", "face", "none"))
    face_fraction: float = opt(0.6, "Side of the 'face' crop as a fraction of the image width "
                               "(0.6 of a CelebA-aligned image is forehead to chin).", lo=0.2, hi=1.0)
    limit: Optional[int] = opt(None, "Use only the first N images of the source (quick runs, tests). "
                               "Empty: all.", lo=1)
    subset: Optional[str] = opt(None, "Train on only some of the prepared images: a subset JSON file (written by "
                                "'python -m facegan curate --keep …' or the Data page's 'Look closer') for this "
                                "data set. Empty: all.")
    synthetic_count: int = opt(4000, "How many built-in synthetic faces to draw.", lo=16, hi=1_000_000)
    synthetic_seed: int = opt(0, "Seed of the built-in synthetic faces; the same seed draws the same faces.",
                              lo=0, hi=2**31 - 1)
    flip: bool = opt(True, "Mirror a random half of every batch left-right (free extra data for faces).")
    min_size: int = opt(16, "Images smaller than this on either side are skipped as too small.",
                        lo=1, hi=4096)


@dataclass
class ModelConfig:
    """The generator and discriminator networks."""

    latent_dim: int = opt(100, "Length of the random vector z each face is made from.", lo=1, hi=4096)
    g_width: int = opt(64, "Generator base width (channels of its last hidden layer; doubles per layer "
                       "towards the input).", lo=4, hi=1024)
    d_width: int = opt(64, "Discriminator base width (channels of its first layer; doubles per layer).",
                       lo=4, hi=1024)
    g_upsample: str = opt("transpose", "How G doubles the image size: 'transpose' (transposed conv, the "
                          "DCGAN default) or 'resize' (nearest upsample + conv, avoids checkerboard "
                          "artefacts).", choices=("transpose", "resize"))
    d_norm: str = opt("batch", "Normalisation in D's hidden layers: 'batch' (BatchNorm), 'spectral' "
                      "(spectral norm on every conv: limits how fast D can change), or 'none'.",
                      choices=("batch", "spectral", "none"))
    g_norm: str = opt("batch", "Normalisation in G's hidden layers: 'batch' (BatchNorm, the DCGAN default) "
                      "or 'none' (pair it with g_spectral; without BatchNorm a multi-process run computes "
                      "exactly what one process computes on the global batch).", choices=("batch", "none"))
    g_spectral: bool = opt(False, "Also apply spectral norm to G's convolutions.")
    d_dropout: float = opt(0.0, "Spatial dropout (Dropout2d) rate after D's hidden layers; 0 is off.",
                           lo=0.0, hi=1.0, hi_open=True)
    d_noise_std: float = opt(0.0, "Std of Gaussian noise layers before D's convolutions (training "
                             "only); 0 is off.", lo=0.0, hi=10.0, group="noise layers")
    g_noise_std: float = opt(0.0, "Std of Gaussian noise layers before G's convolutions (training "
                             "only); 0 is off.", lo=0.0, hi=10.0, group="noise layers")
    noise_schedule: str = opt("linear", "How the noise layers' std changes over training: 'constant', "
                              "'linear' (decays to 0 over noise_epochs), 'cyclic' (period noise_epochs), "
                              "'off_after' (full std, then 0 from epoch noise_epochs).",
                              choices=NOISE_SCHEDULES, group="noise layers")
    noise_epochs: int = opt(10, "Epoch count the noise schedule refers to.", lo=1, hi=100_000,
                            group="noise layers")
    ema: bool = opt(False, "Keep an exponential moving average of G's weights and use it for samples and "
                    "evaluation (smoother faces).")
    ema_decay: float = opt(0.999, "EMA decay per step; closer to 1 averages over more steps.",
                           lo=0.0, hi=1.0, hi_open=True)


@dataclass
class TricksConfig:
    """Label, noise and memory tricks that keep D from winning too fast."""

    real_label: tuple[float, float] = opt((1.0, 1.0), "Range that the label of a real image is drawn from "
                                          "(uniformly, per image). (0.9, 0.9): one-sided smoothing; "
                                          "(0.8, 1.0): noisy labels.", lo=-1.0, hi=2.0, ordered=True,
                                          group="labels")
    fake_label: tuple[float, float] = opt((0.0, 0.0), "Range that the label of a fake image is drawn "
                                          "from. (0.0, 0.1) with a smoothed real label: two-sided "
                                          "smoothing.", lo=-1.0, hi=2.0, ordered=True, group="labels")
    flip_p: float = opt(0.0, "Probability that a label given to D is flipped (real<->fake).",
                        lo=0.0, hi=0.5, group="labels")
    real_as_fake: float = opt(0.0, "Fraction of each real batch shown to D labelled as fake.",
                              lo=0.0, hi=0.5, group="labels")
    swap_labels: bool = opt(False, "Use the swapped convention real=0, fake=1 (label ranges are swapped "
                            "with it).", group="labels")
    instance_noise_std: float = opt(0.0, "Std of Gaussian noise added to every image D sees (real and "
                                    "fake); 0 is off.", lo=0.0, hi=10.0, group="instance noise")
    instance_noise_schedule: str = opt("linear", "How the instance noise std changes (see the model's "
                                       "noise_schedule).", choices=NOISE_SCHEDULES, group="instance noise")
    instance_noise_epochs: int = opt(10, "Epoch count the instance noise schedule refers to.", lo=1,
                                     hi=100_000, group="instance noise")
    replay_capacity: int = opt(0, "How many old generated images to keep and show D again; 0 is off.",
                               lo=0, hi=1_000_000, group="replay buffer")
    replay_fraction: float = opt(0.25, "Fraction of D's fake batch drawn from the replay buffer.",
                                 lo=0.0, hi=1.0, group="replay buffer")
    diffaugment: str = opt("", "DiffAugment: comma-separated ops applied to every image D sees, real and "
                           "fake, in D's and G's updates (differentiable, so G learns through them): 'color', "
                           "'translation', 'cutout'. Lets D learn from a small data set without memorising it. "
                           "Empty: off.", group="augmentation")
    augment_p: float = opt(1.0, "Probability that each augmentation op is applied to each image (where an "
                           "adaptive p starts).", lo=0.0, hi=1.0, group="augmentation")
    augment_adaptive: bool = opt(False, "Adapt p as ADA does: raise it while D is too sure of the real faces "
                                 "(the share of reals it scores positive is above augment_target), lower it "
                                 "otherwise.", group="augmentation")
    augment_target: float = opt(0.6, "Target of the adaptive p's overfitting signal E[sign(D(real))].",
                                lo=0.0, hi=1.0, group="augmentation")
    augment_speed: int = opt(100_000, "Images over which an adaptive p can move from 0 to 1.", lo=1_000,
                             hi=100_000_000, group="augmentation")


@dataclass
class OptimConfig:
    """Losses and optimisers."""

    loss: str = opt("bce", "Adversarial loss: 'bce' (non-saturating, on logits), 'hinge', or 'wgan'.",
                    choices=("bce", "hinge", "wgan"))
    gp: str = opt("none", "Gradient penalty on D: 'wgan-gp' (on interpolates, target norm 1), 'r1' (on "
                  "reals), or 'none'.", choices=("none", "wgan-gp", "r1"))
    gp_weight: float = opt(10.0, "Weight of the gradient penalty.", lo=0.0, hi=1e6)
    gp_every: int = opt(1, "Apply the gradient penalty every k-th D step (lazy regularisation).",
                        lo=1, hi=10_000)
    lr_g: float = opt(2e-4, "Adam learning rate of G.", lo=0.0, hi=1.0)
    lr_d: float = opt(2e-4, "Adam learning rate of D (a different one from G's is TTUR).", lo=0.0, hi=1.0)
    betas_g: tuple[float, float] = opt((0.5, 0.999), "Adam betas of G.", lo=0.0, hi=1.0, hi_open=True)
    betas_d: tuple[float, float] = opt((0.5, 0.999), "Adam betas of D.", lo=0.0, hi=1.0, hi_open=True)
    d_steps: int = opt(1, "D updates per G update.", lo=1, hi=100)
    d_batch: str = opt("separate", "Pass real and fake images through D as 'separate' mini-batches (each "
                       "with its own BatchNorm statistics, as in DCGAN) or one 'joint' batch.",
                       choices=("separate", "joint"))
    batch_size: int = opt(128, "Images per training step.", lo=1, hi=65_536)


@dataclass
class RunConfig:
    """How long to train, where, and what to keep."""

    epochs: int = opt(5, "Passes over the data set.", lo=1, hi=1_000_000)
    seed: int = opt(0, "Seed of everything random in training; the same seed repeats a CPU run exactly.",
                    lo=0, hi=2**31 - 1)
    device: str = opt("auto", "'auto' picks CUDA, then Apple MPS, then the CPU; or name one "
                      "('cpu', 'cuda', 'cuda:1', 'mps').")
    precision: str = opt("auto", "Arithmetic of the training step: 'bf16' runs the forward passes under "
                         "bfloat16 autocast (weights and optimiser stay fp32), 'fp32' does not; 'auto' is bf16 "
                         "on CUDA GPUs and CPUs with bf16 instructions (AVX512-BF16 or AMX), fp32 elsewhere.",
                         choices=("auto", "fp32", "bf16"))
    runs_root: str = opt("checkpoints", "Folder that new run folders are created in.")
    run_dir: Optional[str] = opt(None, "Exact folder of this run (default: runs_root/<time>-<preset>).")
    sync_batchnorm: bool = opt(False, "Multi-GPU (torchrun) runs: compute BatchNorm statistics over the "
                               "global batch (SyncBatchNorm) instead of each GPU's share; CUDA only, slower. "
                               "No effect with one process.")
    log_every: int = opt(10, "Log losses every k steps.", lo=1, hi=1_000_000)
    sample_count: int = opt(64, "Faces in each epoch's sample grid (from latents fixed for the run).",
                            lo=1, hi=1024)
    checkpoint_minutes: float = opt(10.0, "Also save the 'last' checkpoint every this many minutes within "
                                    "an epoch; 0 saves only at epoch ends.", lo=0.0, hi=1e6)
    keep_checkpoints: int = opt(3, "How many epoch checkpoints to keep besides 'last' and 'best'.",
                                lo=0, hi=1_000_000)
    metrics_every: int = opt(0, "Every k epochs (and at the last), measure FID and KID against the training "
                             "data, log them, and keep checkpoints/best.pt by FID; 0 is off.", lo=0,
                             hi=1_000_000, group="live metrics")
    metrics_n: int = opt(2048, "Generated and real images the live metrics use (more: steadier numbers, "
                         "slower).", lo=64, hi=100_000, group="live metrics")
    metrics_features: str = opt("lite0", "Feature network of the live metrics: 'lite0' (EfficientNet-Lite0, "
                                "fast on a CPU) or 'inception' (the standard FID network, slow on a CPU).",
                                choices=("lite0", "inception"), group="live metrics")


SECTIONS = {"data": DataConfig, "model": ModelConfig, "tricks": TricksConfig, "optim": OptimConfig,
            "run": RunConfig}


@dataclass
class Config:
    """A whole run's configuration: the preset it started from plus every resolved value."""

    preset: str = "custom"
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    tricks: TricksConfig = field(default_factory=TricksConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    run: RunConfig = field(default_factory=RunConfig)

    # -- serialisation -------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_dict(cls, d: dict) -> "Config":
        """Build and validate a config from plain data (JSON); unknown keys are errors, not ignored."""
        if not isinstance(d, dict):
            raise ConfigError("config", d, "a JSON object with sections " + ", ".join(SECTIONS))
        unknown = set(d) - set(SECTIONS) - {"preset"}
        if unknown:
            key = sorted(unknown)[0]
            raise ConfigError(key, d[key], "sections " + ", ".join(SECTIONS) + " and 'preset'")
        cfg = cls(preset=str(d.get("preset", "custom")))
        for name in SECTIONS:
            sub = d.get(name, {})
            if not isinstance(sub, dict):
                raise ConfigError(name, sub, "a JSON object of that section's fields")
            for key, value in sub.items():
                cfg.set(f"{name}.{key}", value)
        return cfg.validate()

    @classmethod
    def from_json(cls, text: str) -> "Config":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise ConfigError("config", text[:40], f"valid JSON ({e})") from None
        return cls.from_dict(data)

    # -- access by dotted name -----------------------------------------------------------------------
    def set(self, key: str, value: Any) -> None:
        """Set ``section.field`` (or a field name that is unique across sections) from a typed value
        or from a string as typed on a command line; the type is converted, limits are checked later."""
        section, name = resolve_key(key)
        _field(section, name)  # an unknown field raises here, with the allowed names
        setattr(getattr(self, section), name, coerce(f"{section}.{name}", value, field_type(section, name)))

    def get(self, key: str) -> Any:
        section, name = resolve_key(key)
        return getattr(getattr(self, section), name)

    def with_overrides(self, pairs: list[str] | dict[str, Any]) -> "Config":
        """A validated copy with ``key=value`` strings (or a ``{key: value}`` dict) applied."""
        cfg = dataclasses.replace(self, **{s: dataclasses.replace(getattr(self, s)) for s in SECTIONS})
        items = pairs.items() if isinstance(pairs, dict) else [_split_pair(p) for p in pairs]
        for key, value in items:
            cfg.set(key, value)
        return cfg.validate()

    def diff(self, other: "Config") -> dict[str, tuple[Any, Any]]:
        """``{'section.key': (this value, other's value)}`` for every field where ``other`` differs."""
        mine, theirs = self.to_dict(), other.to_dict()
        return {f"{s}.{k}": (v, theirs[s][k]) for s in SECTIONS for k, v in mine[s].items() if theirs[s][k] != v}

    # -- validation ----------------------------------------------------------------------------------
    def validate(self) -> "Config":
        for section in SECTIONS:
            obj = getattr(self, section)
            for f in dataclasses.fields(obj):
                check_value(f"{section}.{f.name}", getattr(obj, f.name), f.metadata,
                            field_type(section, f.name))
        self._check_combinations()
        return self

    def _check_combinations(self) -> None:
        t, o = self.tricks, self.optim
        label_tricks = (t.real_label != (1.0, 1.0) or t.fake_label != (0.0, 0.0) or t.flip_p > 0
                        or t.real_as_fake > 0 or t.swap_labels)
        if label_tricks and o.loss != "bce":
            raise ConfigError("optim.loss", o.loss, "'bce' when label tricks (smoothing, flips, "
                              "real_as_fake, swap_labels) are set: hinge and WGAN losses have no labels")
        if t.real_label[0] <= t.fake_label[1]:
            raise ConfigError("tricks.real_label", t.real_label,
                              f"a range above tricks.fake_label {t.fake_label} (they may not overlap)")
        augment_policy(t.diffaugment)
        if o.d_batch == "joint" and self.model.d_norm == "batch" and o.gp == "wgan-gp":
            raise ConfigError("model.d_norm", "batch", "'spectral' or 'none' with the WGAN-GP penalty "
                              "(BatchNorm mixes samples, so per-sample gradient norms are meaningless)")


def augment_policy(policy: str) -> tuple[str, ...]:
    """``"color, translation"`` -> ``("color", "translation")``; ``""`` -> ``()``. A name outside
    :data:`AUGMENT_OPS`, or one named twice, is a :class:`ConfigError`."""
    ops = tuple(op.strip() for op in policy.split(",") if op.strip())
    if any(op not in AUGMENT_OPS for op in ops) or len(set(ops)) != len(ops):
        raise ConfigError("tricks.diffaugment", policy, "a comma-separated list of distinct ops from "
                          + ", ".join(AUGMENT_OPS) + " (e.g. 'color,translation,cutout'), or empty for off")
    return ops


# -- field machinery ---------------------------------------------------------------------------------

def iter_fields(section: str):
    """(field, type) of one section, in declaration order: what a form or a help text walks."""
    cls = SECTIONS[section]
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        yield f, hints[f.name]


def field_type(section: str, name: str):
    return typing.get_type_hints(SECTIONS[section])[name]


def _field(section: str, name: str) -> dataclasses.Field:
    return SECTIONS[section].__dataclass_fields__[name]


def all_keys() -> list[str]:
    return [f"{s}.{f.name}" for s in SECTIONS for f, _ in iter_fields(s)]


def resolve_key(key: str) -> tuple[str, str]:
    """``'model.latent_dim'`` or ``'latent_dim'`` -> ``('model', 'latent_dim')``."""
    key = key.strip()
    if "." in key:
        section, _, name = key.partition(".")
        if section in SECTIONS and name in SECTIONS[section].__dataclass_fields__:
            return section, name
    else:
        hits = [s for s in SECTIONS if key in SECTIONS[s].__dataclass_fields__]
        if len(hits) == 1:
            return hits[0], key
    raise ConfigError("setting", key, "a known setting such as " + ", ".join(_close_keys(key))
                      + " (python -m facegan config --fields lists all)")


def _close_keys(key: str) -> list[str]:
    import difflib
    leaf = key.rpartition(".")[2]
    keys = all_keys()
    close = difflib.get_close_matches(key, keys, n=3) or difflib.get_close_matches(
        leaf, [k.rpartition(".")[2] for k in keys], n=3)
    return [repr(k) for k in (close or keys[:3])]


def _split_pair(pair: str) -> tuple[str, str]:
    if "=" not in pair:
        raise ConfigError("override", pair, "key=value, for example model.latent_dim=128")
    key, _, value = pair.partition("=")
    return key, value


def unwrap_optional(tp):
    """``Optional[X]`` -> ``(X, True)``; anything else -> ``(tp, False)``."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0], True
    return tp, False


_TRUE = {"true", "1", "yes", "on", "y"}
_FALSE = {"false", "0", "no", "off", "n"}


def coerce(name: str, value: Any, tp) -> Any:
    """Convert ``value`` (from JSON or a command line string) to the field's type, or raise."""
    inner, optional = unwrap_optional(tp)
    if optional and (value is None or (isinstance(value, str) and value.strip().lower() in ("", "none", "null"))):
        return None
    if typing.get_origin(inner) is tuple:
        elem = typing.get_args(inner)[0]
        parts = value
        if isinstance(value, str):
            parts = [p for p in value.strip().strip("()[]").split(",") if p.strip()]
        if not isinstance(parts, (list, tuple)):
            parts = [parts]
        n = len(typing.get_args(inner))
        if len(parts) == 1:  # a single number means the degenerate range (v, v)
            parts = list(parts) * n
        if len(parts) != n:
            raise ConfigError(name, value, f"{n} numbers separated by a comma, like 0.9,1.0")
        return tuple(coerce(name, p, elem) for p in parts)
    if inner is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        raise ConfigError(name, value, "true or false")
    if inner is int:
        if isinstance(value, bool):
            raise ConfigError(name, value, "a whole number")
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            try:
                return int(value.strip())
            except ValueError:
                pass
        raise ConfigError(name, value, "a whole number")
    if inner is float:
        if isinstance(value, bool):
            raise ConfigError(name, value, "a number")
        try:
            out = float(value.strip() if isinstance(value, str) else value)
        except (TypeError, ValueError):
            raise ConfigError(name, value, "a number") from None
        if out != out or out in (float("inf"), float("-inf")):
            raise ConfigError(name, value, "a finite number")
        return out
    if inner is str:
        if isinstance(value, str):
            return value.strip()
        raise ConfigError(name, value, "text")
    raise TypeError(f"unsupported config type {tp} for {name}")


def describe_allowed(meta: dict, tp) -> str:
    inner, optional = unwrap_optional(tp)
    if meta.get("choices"):
        text = "one of " + ", ".join(repr(c) for c in meta["choices"])
    else:
        lo, hi = meta.get("lo"), meta.get("hi")
        kind = "whole number" if inner is int else "number"
        if typing.get_origin(inner) is tuple:
            kind = "pair of numbers (low, high)" if meta.get("ordered") else "pair of numbers"
        if inner is bool:
            return "true or false"
        if inner is str:
            return "text"
        bounds = []
        if lo is not None:
            bounds.append(f">= {lo:g}")
        if hi is not None:
            bounds.append(f"{'<' if meta.get('hi_open') else '<='} {hi:g}")
        text = f"a {kind}" + (" " + " and ".join(bounds) if bounds else "")
    return text + (", or empty" if optional else "")


def check_value(name: str, value: Any, meta: dict, tp) -> None:
    """Raise ConfigError unless ``value`` has the field's type and lies within its limits."""
    inner, optional = unwrap_optional(tp)
    if value is None:
        if optional:
            return
        raise ConfigError(name, value, describe_allowed(meta, tp))
    if coerce(name, value, tp) != value or type(coerce(name, value, tp)) is not type(value):
        raise ConfigError(name, value, describe_allowed(meta, tp))
    elems = value if isinstance(value, tuple) else (value,)
    if meta.get("choices") and value not in meta["choices"]:
        raise ConfigError(name, value, describe_allowed(meta, tp))
    lo, hi = meta.get("lo"), meta.get("hi")
    for v in elems:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            continue
        if (lo is not None and v < lo) or (hi is not None and (v >= hi if meta.get("hi_open") else v > hi)):
            raise ConfigError(name, value, describe_allowed(meta, tp))
    if meta.get("ordered") and list(elems) != sorted(elems):
        raise ConfigError(name, value, "a (low, high) pair with low <= high")


def help_table() -> str:
    """Every field with its default and help, for ``python -m facegan config --help-fields``."""
    lines = []
    for s in SECTIONS:
        lines.append(f"[{s}]  {SECTIONS[s].__doc__.strip()}")
        for f, tp in iter_fields(s):
            lines.append(f"  {s}.{f.name} = {f.default!r}\n      {f.metadata['help']} "
                         f"Allowed: {describe_allowed(f.metadata, tp)}.")
    return "\n".join(lines)
