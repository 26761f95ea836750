"""The built-in data set: cartoon portraits drawn procedurally at run time, no download needed.

Every face is a pure function of ``(seed, index, resolution)``: its random traits come from its own
``numpy.random.default_rng([seed, index])``, so any subset, order or thread renders the same pixels.
Traits are sampled first (:func:`_sample_traits`), then drawn (:func:`_draw`) in resolution-free
"head units" (fractions of the image side, origin at the image centre, v pointing down) onto a
canvas at least twice the output size, which is then downsampled: the supersampling is the
antialiasing, and because nothing is laid out in pixels the same face at 32, 64 or 128 px is the
same drawing. The layout follows aligned CelebA crops: the face fills most of the frame with the
eyes about 43% from the top, hair at the top edge and a strip of neck and shoulders at the bottom.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageChops, ImageDraw, ImageFilter

# Part of the prepared-data cache key: bump it whenever a change alters any drawn pixel.
GENERATOR_VERSION = 1

MIN_RESOLUTION, MAX_RESOLUTION = 8, 512
_MIN_CANVAS = 128    # smallest drawing canvas: small outputs still get >= 4x supersampling
_MASK_SIZE = 48      # soft shading is drawn small and blurred there: blurring is the costly part
_MASK_BLUR = 1.6     # in mask pixels

Colour = tuple  # (r, g, b) floats in 0..255


# ----------------------------------------------------------------------------------------------
# Traits
# ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Pose:
    angle: float      # in-plane head tilt, radians
    scale: float
    dx: float         # shift of the head, in head units
    dy: float
    yaw: float        # -1..1: turns the features sideways (positive: towards image right)


@dataclass(frozen=True)
class Head:
    width: float      # half-width of the face at the cheekbones
    top: float        # height of the skull above the origin
    chin: float       # depth of the chin below the origin
    jaw: float        # superellipse power of the lower face: 2 is oval, 4 is square
    taper: float      # how much the jaw narrows towards the chin
    skin: Colour
    ear_size: float
    neck: float       # half-width of the neck
    age: float        # 0..1: wrinkles and folds
    masc: bool        # biases hair, beard and make-up choices, nothing more


@dataclass(frozen=True)
class Hair:
    front: str        # bald, buzz, short, side, middle, bangs, slick
    back: str         # none, bob, long, bun, afro
    colour: Colour
    volume: float     # how far the hair stands off the skull
    hairline: float   # v of the hairline at the centre of the forehead
    part: float       # -1..1, where a side parting falls
    length: float     # v where long hair ends
    facial: Colour    # brows, beard and moustache: the natural colour under any dye


@dataclass(frozen=True)
class Eyes:
    v: float          # height of the eye line
    spacing: float    # half the distance between the eye centres
    width: float      # full width of one eye
    height: float     # opening above the eye's centre line
    slant: float      # radians, outer corners up when positive
    iris: Colour
    iris_size: float  # iris radius as a fraction of the eye width
    gaze: float       # -1..1 horizontal look direction
    liner: float      # upper-lid line thickness (lashes, make-up)
    lid: Colour       # colour of the lid line


@dataclass(frozen=True)
class Brows:
    thickness: float
    lift: float       # gap above the eye
    angle: float      # inner ends down (angry) when negative, up (worried) when positive
    arch: float
    length: float
    colour: Colour


@dataclass(frozen=True)
class Nose:
    tip: float        # v of the nose tip
    width: float      # half-width of the nostril wings
    size: float       # nostril size
    bridge: float     # strength of the bridge shading


@dataclass(frozen=True)
class Mouth:
    v: float
    width: float      # half-width
    curve: float      # corner lift: + smile, - frown
    tilt: float       # one corner higher than the other (smirk)
    open: float       # height of the opening
    open_top: float   # share of the opening above the lip line (0 grin, ~0.6 surprised)
    upper: float      # lip thicknesses
    lower: float
    lip: Colour
    teeth: bool


@dataclass(frozen=True)
class Extras:
    beard: str        # none, stubble, full, goatee
    moustache: bool
    glasses: str      # none, round, square, sun
    frame: Colour
    blush: float
    earrings: bool
    cloth: Colour
    neckline: str     # crew, vee, collar, turtle


@dataclass(frozen=True)
class Scene:
    bg: Colour
    bg2: Colour
    gradient: str     # flat, linear, radial
    bg_angle: float
    blobs: tuple      # soft background blobs: ((u, v, radius, strength), ...)
    light: tuple      # unit vector towards the light, in head units
    light_strength: float


@dataclass(frozen=True)
class Traits:
    pose: Pose
    head: Head
    hair: Hair
    eyes: Eyes
    brows: Brows
    nose: Nose
    mouth: Mouth
    extras: Extras
    scene: Scene


# Palettes. Skin runs from very light to very dark along one ramp so a single number picks a tone.
_SKIN_RAMP = np.array([
    (255, 230, 212), (246, 212, 184), (236, 190, 154), (222, 168, 126), (200, 142, 100),
    (170, 114, 76), (138, 90, 60), (108, 70, 48), (80, 52, 38), (58, 40, 31)], float)

_HAIR = {  # name: (rgb, weight)
    "black": ((26, 21, 20), 0.20), "dark brown": ((56, 38, 28), 0.18), "brown": ((96, 64, 40), 0.14),
    "light brown": ((142, 102, 64), 0.09), "blonde": ((214, 176, 110), 0.09),
    "platinum": ((236, 220, 180), 0.04), "auburn": ((140, 56, 30), 0.06), "ginger": ((196, 98, 44), 0.05),
    "grey": ((140, 138, 136), 0.07), "white": ((216, 214, 208), 0.04), "dyed": (None, 0.04),
}
_IRIS = (((62, 38, 22), 0.35), ((98, 60, 30), 0.22), ((124, 100, 50), 0.1), ((76, 112, 70), 0.08),
         ((64, 112, 170), 0.15), ((110, 128, 144), 0.1))
_LIPSTICK = ((176, 30, 44), (200, 70, 100), (120, 40, 60), (214, 110, 110))


def _smoothstep(a: float, b: float, x):
    t = np.clip((x - a) / (b - a), 0.0, 1.0)
    return t * t * (3 - 2 * t)


def _pick(rng: np.random.Generator, options, weights):
    cum = np.cumsum(weights)
    return options[min(int(np.searchsorted(cum, rng.random() * cum[-1], side="right")), len(options) - 1)]


def _hsv(h: float, s: float, v: float) -> Colour:
    """HSV in 0..1 to an RGB colour; backgrounds and clothes are easier to sample this way."""
    i = int(h * 6.0) % 6
    f = h * 6.0 - math.floor(h * 6.0)
    p, q, t = v * (1 - s), v * (1 - s * f), v * (1 - s * (1 - f))
    r, g, b = [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)][i]
    return (r * 255, g * 255, b * 255)


def _mix(a: Colour, b: Colour, t: float) -> Colour:
    return tuple(x + (y - x) * t for x, y in zip(a, b))


def _scale(c: Colour, k: float) -> Colour:
    return tuple(min(255.0, x * k) for x in c)


def _sample_traits(rng: np.random.Generator) -> Traits:
    masc = bool(rng.random() < 0.5)
    tone = float(rng.random())  # 0 is the lightest skin, 1 the darkest
    pose = Pose(angle=float(rng.normal(0, 0.07)), scale=float(rng.uniform(1.0, 1.12)),
                dx=float(rng.normal(0, 0.02)), dy=float(rng.normal(0, 0.015)),
                yaw=float(np.clip(rng.normal(0, 0.35), -0.8, 0.8)))
    hair = _sample_hair(rng, masc, tone)
    head = _sample_head(rng, masc, tone, hair)
    return Traits(pose=pose, head=head, hair=hair, eyes=_sample_eyes(rng, masc, tone, hair),
                  brows=_sample_brows(rng, masc, hair),
                  nose=Nose(tip=float(rng.uniform(0.055, 0.095)),
                            width=float(rng.uniform(0.035, 0.055) * (1 + tone * 0.2)),
                            size=float(rng.uniform(0.8, 1.3)), bridge=float(rng.uniform(0.3, 1.0))),
                  mouth=_sample_mouth(rng, masc, head.skin), extras=_sample_extras(rng, masc),
                  scene=_sample_scene(rng))


def _skin_colour(rng: np.random.Generator, tone: float) -> Colour:
    """A tone from the ramp, nudged warmer or cooler so the tones are not all on one line."""
    pos = tone * (len(_SKIN_RAMP) - 1)
    lo = min(int(pos), len(_SKIN_RAMP) - 2)
    skin = _SKIN_RAMP[lo] + (_SKIN_RAMP[lo + 1] - _SKIN_RAMP[lo]) * (pos - lo)
    # Relative jitter, so dark tones are not pushed off-hue; skin always has red > green > blue.
    r, g, b = np.clip(skin * (1 + rng.normal(0, 0.025, 3) + np.array([1, 0, -1]) * rng.normal(0, 0.03)), 25, 255)
    g = min(g, r * 0.92)
    return (float(r), float(g), float(min(b, g * 0.95)))


def _sample_head(rng: np.random.Generator, masc: bool, tone: float, hair: Hair) -> Head:
    r, g, b = hair.colour
    greying = max(r, g, b) - min(r, g, b) < 20 and r > 110  # grey or white hair
    old = greying or hair.front == "bald"
    return Head(width=float(rng.uniform(0.235, 0.30) + (0.01 if masc else 0.0)),
                top=float(rng.uniform(0.37, 0.41)), chin=float(rng.uniform(0.28, 0.38)),
                jaw=float(rng.uniform(2.6, 4.0) if masc else rng.uniform(2.0, 2.8)),
                taper=float(rng.uniform(0.05, 0.3)), skin=_skin_colour(rng, tone),
                ear_size=float(rng.uniform(0.85, 1.15)),
                neck=float(rng.uniform(0.10, 0.13) if masc else rng.uniform(0.08, 0.11)),
                age=float(rng.uniform(0.55, 1.0) if old else rng.uniform(0.0, 0.6)), masc=masc)


def _sample_eyes(rng: np.random.Generator, masc: bool, tone: float, hair: Hair) -> Eyes:
    # Light irises are rare with dark skin.
    weights = [w * (0.15 if tone > 0.55 and i > 2 else 1.0) for i, (_, w) in enumerate(_IRIS)]
    width = float(rng.uniform(0.085, 0.115))
    return Eyes(v=float(rng.normal(-0.07, 0.01)), spacing=float(rng.uniform(0.095, 0.12)), width=width,
                height=float(width * rng.uniform(0.28, 0.42)), slant=float(rng.normal(0.03, 0.06)),
                iris=_pick(rng, [c for c, _ in _IRIS], weights), iris_size=float(rng.uniform(0.26, 0.33)),
                gaze=float(rng.normal(0, 0.3)),
                liner=float(rng.uniform(0.006, 0.010) if masc else rng.uniform(0.009, 0.016)),
                lid=_mix((24, 16, 14), hair.facial, 0.2))


def _sample_brows(rng: np.random.Generator, masc: bool, hair: Hair) -> Brows:
    colour = _scale(hair.facial, 0.75) if sum(hair.facial) > 250 else hair.facial  # light hair, darker brows
    return Brows(thickness=float(rng.uniform(0.014, 0.024) if masc else rng.uniform(0.009, 0.015)),
                 lift=float(rng.uniform(0.045, 0.07)), angle=float(rng.normal(0, 0.12)),
                 arch=float(rng.uniform(0.004, 0.02)), length=float(rng.uniform(0.11, 0.14)), colour=colour)


# expression: (weight, corner-lift range, opening range); aligned face photos smile a lot.
_EXPRESSIONS = {
    "smile": (0.30, (0.012, 0.03), (0.0, 0.0)),
    "grin": (0.22, (0.015, 0.035), (0.018, 0.035)),
    "neutral": (0.25, (-0.004, 0.006), (0.0, 0.0)),
    "open": (0.08, (-0.005, 0.01), (0.025, 0.045)),
    "frown": (0.08, (-0.022, -0.01), (0.0, 0.0)),
    "smirk": (0.07, (0.004, 0.012), (0.0, 0.0)),
}


def _sample_mouth(rng: np.random.Generator, masc: bool, skin: Colour) -> Mouth:
    names = list(_EXPRESSIONS)
    expression = _pick(rng, names, [_EXPRESSIONS[n][0] for n in names])
    _, curve, opening = _EXPRESSIONS[expression]
    if not masc and rng.random() < 0.35:  # lipstick
        lip = _mix(skin, _LIPSTICK[int(rng.integers(len(_LIPSTICK)))], 0.75)
    else:  # lips a little darker and redder than the skin, whatever the tone
        lip = _scale(_mix(skin, (200, 90, 95), rng.uniform(0.25, 0.45)), rng.uniform(0.78, 0.9))
    full = 0.0 if masc else 0.004
    return Mouth(v=float(rng.uniform(0.165, 0.195)),
                 width=float(rng.uniform(0.09, 0.12) * (0.75 if expression == "open" else 1.0)),
                 curve=float(rng.uniform(*curve)),
                 tilt=float(rng.uniform(0.008, 0.018) * rng.choice([-1, 1])) if expression == "smirk" else 0.0,
                 open=float(rng.uniform(*opening)) if opening[1] > 0 else 0.0,
                 open_top=0.55 if expression == "open" else 0.15,
                 upper=float(rng.uniform(0.008, 0.013) + full), lower=float(rng.uniform(0.012, 0.02) + full),
                 lip=lip, teeth=expression == "grin" or (expression == "open" and rng.random() < 0.5))


def _sample_hair(rng: np.random.Generator, masc: bool, tone: float) -> Hair:
    names = list(_HAIR)
    weights = [_HAIR[n][1] for n in names]
    if tone > 0.55:  # light hair is rare with dark skin; keeps the set looking like people
        fair = ("blonde", "platinum", "ginger", "auburn")
        weights = [w * (0.2 if n in fair else 1) for n, w in zip(names, weights)]
    name = _pick(rng, names, weights)
    if name == "dyed":
        colour = _hsv(rng.random(), rng.uniform(0.4, 0.7), rng.uniform(0.35, 0.8))
    else:
        colour = _HAIR[name][0]
    colour = _scale(colour, rng.uniform(0.85, 1.15))
    facial = _HAIR["dark brown"][0] if name == "dyed" else colour

    if masc:
        front = _pick(rng, ["short", "side", "buzz", "bald", "bangs", "slick", "middle"],
                      [0.32, 0.24, 0.1, 0.1, 0.06, 0.1, 0.08])
        back = _pick(rng, ["none", "bob", "long", "afro"], [0.8, 0.05, 0.08, 0.07 + 0.1 * tone])
    else:
        front = _pick(rng, ["middle", "side", "bangs", "short", "slick"], [0.3, 0.28, 0.24, 0.08, 0.1])
        back = _pick(rng, ["long", "bob", "bun", "none", "afro"], [0.5, 0.2, 0.12, 0.06, 0.04 + 0.1 * tone])
    if back == "afro" and front in ("bald", "buzz", "slick"):
        front = "short"
    if back == "bun":
        front = "slick"
    if back == "long" and front not in ("middle", "side", "bangs"):
        front = "middle"  # anything else over long hair reads as a hood
    volume = {"bald": 0.0, "buzz": 0.006, "slick": 0.012}.get(front, rng.uniform(0.02, 0.05))
    if masc and front == "short":
        volume = rng.uniform(0.012, 0.03)
    hairline = {"bangs": rng.uniform(-0.16, -0.13), "bald": -0.3}.get(front, rng.uniform(-0.27, -0.21))
    return Hair(front=front, back=back, colour=colour, volume=float(volume), hairline=float(hairline),
                part=float(rng.uniform(0.25, 0.6) * rng.choice([-1, 1])), length=float(rng.uniform(0.3, 0.6)),
                facial=facial)


def _sample_extras(rng: np.random.Generator, masc: bool) -> Extras:
    beard = _pick(rng, ["none", "stubble", "full", "goatee"], [0.6, 0.16, 0.14, 0.1]) if masc else "none"
    glasses = _pick(rng, ["none", "round", "square", "sun"], [0.8, 0.08, 0.09, 0.03])
    frame = _pick(rng, [(20, 18, 18), (90, 50, 30), (150, 150, 155), (120, 30, 40)], [0.5, 0.2, 0.2, 0.1])
    cloth = _hsv(rng.random(), rng.uniform(0.0, 0.8), rng.uniform(0.15, 0.95))
    return Extras(beard=beard, moustache=beard in ("full", "goatee") or (masc and rng.random() < 0.08),
                  glasses=glasses, frame=frame,
                  blush=float(rng.uniform(0.0, 0.2) if masc else rng.uniform(0.0, 0.5)),
                  earrings=not masc and rng.random() < 0.3, cloth=cloth,
                  neckline=_pick(rng, ["crew", "vee", "collar", "turtle"], [0.4, 0.25, 0.25, 0.1]))


# backdrop: (weight, saturation range, value range)
_BACKDROPS = {
    "studio": (0.25, (0.0, 0.12), (0.55, 0.9)),
    "colour": (0.35, (0.25, 0.75), (0.35, 0.9)),
    "dark": (0.2, (0.0, 0.5), (0.05, 0.3)),
    "pale": (0.2, (0.05, 0.3), (0.85, 1.0)),
}


def _sample_scene(rng: np.random.Generator) -> Scene:
    _, sats, vals = _pick(rng, list(_BACKDROPS.values()), [b[0] for b in _BACKDROPS.values()])
    hue, sat, val = rng.random(), rng.uniform(*sats), rng.uniform(*vals)
    bg = _hsv(hue, sat, val)
    bg2 = _hsv((hue + rng.normal(0, 0.08)) % 1.0, min(1.0, sat * rng.uniform(0.6, 1.2)),
               min(1.0, val * rng.uniform(0.55, 1.35)))
    blobs = tuple((float(rng.uniform(-0.5, 0.5)), float(rng.uniform(-0.5, 0.5)), float(rng.uniform(0.1, 0.3)),
                   float(rng.uniform(-0.25, 0.3))) for _ in range(int(rng.integers(0, 4))))
    a = rng.uniform(-math.pi - 0.3, 0.3)  # from above or the side, never from below
    return Scene(bg=bg, bg2=bg2, gradient=_pick(rng, ["flat", "linear", "radial"], [0.3, 0.45, 0.25]),
                 bg_angle=float(rng.uniform(0, 2 * math.pi)), blobs=blobs,
                 light=(math.cos(a), math.sin(a)), light_strength=float(rng.uniform(0.1, 0.45)))


# ----------------------------------------------------------------------------------------------
# Drawing
# ----------------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=None)
def _circle(n: int):
    """cos and sin of n angles round a circle (cached: ellipses are drawn dozens of times a face)."""
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    c, s = np.cos(t), np.sin(t)
    c.flags.writeable = s.flags.writeable = False
    return c, s


@functools.lru_cache(maxsize=None)
def _lin(a: float, b: float, n: int) -> np.ndarray:
    """np.linspace for the constant ranges the shapes are built from, made once (read-only)."""
    x = np.linspace(a, b, n)
    x.flags.writeable = False
    return x


def _gradient(a: np.ndarray) -> np.ndarray:
    """np.gradient for a 1-d array (central differences), without its per-call overhead."""
    g = np.empty_like(a)
    g[1:-1] = (a[2:] - a[:-2]) * 0.5
    g[0], g[-1] = a[1] - a[0], a[-1] - a[-2]
    return g


class _Pen:
    """Draws shapes given in head units onto one image, through the face's pose transform.

    With a ``silhouette`` image, opaque shapes are also drawn there: that mask says which pixels
    belong to the person, so shading and lighting leave the background alone."""

    def __init__(self, image: Image.Image, pose: Pose, silhouette: Image.Image | None = None):
        size = image.width
        k = pose.scale * size
        c, s = math.cos(pose.angle), math.sin(pose.angle)
        self._m = (k * c, -k * s, k * s, k * c)
        self._o = ((0.5 + pose.dx) * size, (0.5 + pose.dy) * size)
        self.image = image
        self.mask = image.mode == "L"
        # "RGBA" on an RGB image blends translucent fills into it.
        self.draw = ImageDraw.Draw(image, None if self.mask else "RGBA")
        self._sil = ImageDraw.Draw(silhouette) if silhouette is not None else None

    def _xy(self, u, v) -> list:
        m, o = self._m, self._o
        u, v = np.asarray(u, float), np.asarray(v, float)
        xy = np.empty(2 * len(u))
        xy[0::2] = o[0] + m[0] * u + m[1] * v
        xy[1::2] = o[1] + m[2] * u + m[3] * v
        return xy.tolist()

    def poly(self, u, v, colour, alpha: float = 1.0):
        xy = self._xy(u, v)
        if self.mask:
            self.draw.polygon(xy, fill=int(colour))
            return
        self.draw.polygon(xy, fill=(int(colour[0]), int(colour[1]), int(colour[2]), int(alpha * 255)))
        if self._sil is not None and alpha >= 1.0:
            self._sil.polygon(xy, fill=255)

    def ellipse(self, cu, cv, ru, rv, colour, alpha: float = 1.0, tilt: float = 0.0, n: int = 28):
        cos_t, sin_t = _circle(n)
        x, y = ru * cos_t, rv * sin_t
        if tilt:
            c, s = math.cos(tilt), math.sin(tilt)
            x, y = c * x - s * y, s * x + c * y
        self.poly(cu + x, cv + y, colour, alpha)

    def ribbon(self, u, v, half_width, colour, alpha: float = 1.0):
        """A stroke along the polyline (u, v), its half-width given per point (taper it to 0 for
        pointed ends). Strokes are polygons, not PIL lines, so their width is exact at any size."""
        u, v = np.asarray(u, float), np.asarray(v, float)
        du, dv = _gradient(u), _gradient(v)
        norm = np.hypot(du, dv) + 1e-12
        nu, nv = -dv / norm * half_width, du / norm * half_width
        self.poly(np.concatenate([u + nu, (u - nu)[::-1]]), np.concatenate([v + nv, (v - nv)[::-1]]),
                  colour, alpha)


class _Outline:
    """The face's closed outline: an ellipse above the cheekbones, a superellipse below (its power
    squares the jaw), narrowed towards the chin; with look-ups used to fit ears, hair and beards."""

    def __init__(self, h: Head, n: int = 72):
        c, s = _circle(n)
        e = 2.0 / h.jaw
        lower = s > 0
        u = np.where(lower, h.width * np.sign(c) * np.abs(c) ** e, h.width * c)
        v = np.where(lower, h.chin * np.abs(s) ** e, h.top * s)
        self.u = u * (1 - h.taper * np.clip(v / h.chin, 0, 1) ** 2)
        self.v = v
        # The right half from top to chin, for half-width by height; the lower half for chin depth.
        right = np.argsort(v[c >= 0])
        self._rv, self._ru = v[c >= 0][right], self.u[c >= 0][right]
        low = np.argsort(self.u[lower])
        self._lu, self._lv = self.u[lower][low], v[lower][low]

    def half_width(self, v):
        return np.interp(v, self._rv, self._ru)

    def bottom(self, u):
        """Height of the lower outline (jaw and chin) at horizontal position u."""
        return np.interp(u, self._lu, self._lv)


def _background(sc: Scene, size: int) -> Image.Image:
    # Backgrounds are smooth, so compute them at 32 px and let a bilinear resize fill in.
    n = 32
    g = (np.arange(n) + 0.5) / n - 0.5
    x, y = np.meshgrid(g, g)
    if sc.gradient == "linear":
        t = np.clip((x * math.cos(sc.bg_angle) + y * math.sin(sc.bg_angle)) + 0.5, 0, 1)
    elif sc.gradient == "radial":
        t = np.clip(np.hypot(x - 0.2 * math.cos(sc.bg_angle), y - 0.2 * math.sin(sc.bg_angle)) * 1.4, 0, 1)
    else:
        t = np.zeros_like(x)
    a, b = np.array(sc.bg), np.array(sc.bg2)
    img = a + t[..., None] * (b - a)
    for u, v, r, k in sc.blobs:
        img = img + (k * 255) * np.exp(-((x - u) ** 2 + (y - v) ** 2) / (2 * r * r))[..., None]
    small = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))
    # Bilinear to half size, then pixel doubling: half the cost, and the final downsampling
    # averages the doubled pixels away.
    half = small.resize((size // 2, size // 2), Image.Resampling.BILINEAR)
    return half.resize((size, size), Image.Resampling.NEAREST)


def _draw_body(pen: _Pen, t: Traits):
    h, x = t.head, t.extras
    skin = h.skin
    # Shoulders slope from the neck to beyond the frame edges.
    pen.poly([-0.9, -0.9, -0.45, -0.16, 0.16, 0.45, 0.9, 0.9], [0.9, 0.56, 0.45, 0.39, 0.39, 0.45, 0.56, 0.9],
             x.cloth)
    pen.poly([-h.neck, -h.neck * 1.05, -h.neck * 1.25, h.neck * 1.25, h.neck * 1.05, h.neck],
             [0.1, 0.32, 0.42, 0.42, 0.32, 0.1], _scale(skin, 0.92))
    if x.neckline == "vee":
        pen.poly([-h.neck * 1.3, 0.0, h.neck * 1.3], [0.41, 0.55, 0.41], _scale(skin, 0.92))
    elif x.neckline == "turtle":
        pen.poly([-h.neck * 1.15, -h.neck * 1.1, h.neck * 1.1, h.neck * 1.15],
                 [0.45, h.chin + 0.02, h.chin + 0.02, 0.45],
                 _scale(x.cloth, 0.9))
    elif x.neckline == "collar":
        white = (236, 236, 232) if sum(x.cloth) < 500 else (60, 70, 110)
        for side in (-1, 1):
            pen.poly([side * h.neck * 1.3, side * h.neck * 1.7, side * 0.02],
                     [0.37, 0.47, 0.52], white)
    else:
        pen.ellipse(0, 0.405, h.neck * 1.35, 0.03, _scale(x.cloth, 0.75))
        pen.ellipse(0, 0.40, h.neck * 1.3, 0.026, _scale(skin, 0.92))


def _hair_cap(h: Head, hair: Hair, n: int = 40):
    """The hair over the skull, down to a hairline; returns the polygon (u, v)."""
    wc, tc = h.width + hair.volume, h.top + hair.volume
    side = 0.0 if hair.front != "bangs" else -0.02  # where the hair meets the ears
    th = _lin(np.pi, 2 * np.pi, n)
    ou, ov = wc * np.cos(th), tc * np.sin(th) + side * (1 - np.abs(np.sin(th)))
    x = _lin(1, -1, n)
    if hair.front == "bangs":
        # A fringe: a scalloped lower edge, straight or swept to one side, dropping at the sides.
        hv = hair.hairline + 0.006 * np.abs(np.sin(x * 9)) + 0.04 * hair.part * x
        hv = hv + (side - hv) * np.abs(x) ** 10
    elif hair.front == "side":
        # The parting side stays high, the hair sweeps down across the forehead to the other side.
        s = np.sign(hair.part)
        sweep = np.clip((x * -s + 0.6) / 1.6, 0, 1) ** 1.5
        hv = hair.hairline + 0.1 * sweep + (side - hair.hairline - 0.1 * sweep) * np.abs(x) ** 6
    elif hair.front == "middle":
        # Parted in the middle: high at the parting, curtains sloping down to the temples.
        hv = hair.hairline - 0.05 + 0.2 * np.abs(x) ** 1.1
        hv = hv + (side - hv) * np.abs(x) ** 8
    elif hair.front == "short":
        # Short hair recedes a little at the temples (an M-shaped hairline).
        hv = hair.hairline - 0.03 * np.exp(-((np.abs(x) - 0.6) / 0.15) ** 2)
        hv = hv + (side - hv) * np.abs(x) ** 6
    else:
        hv = hair.hairline + (side - hair.hairline) * np.abs(x) ** 6
    if hair.back == "afro":
        hv = hv + 0.012 * np.abs(np.sin(x * 8))  # curls along the hairline
    return np.concatenate([ou, x * wc * 0.99]), np.concatenate([ov, hv])


def _draw_back_hair(pen: _Pen, t: Traits):
    h, hair = t.head, t.hair
    c = _scale(hair.colour, 0.85)  # hair behind the head is in its own shadow
    if hair.back == "afro":
        # A cloud of overlapping curls around the head.
        pen.ellipse(0, -0.14, h.width + 0.11, h.top + 0.01, c, n=40)
        for a in _lin(np.pi * 0.85, np.pi * 2.15, 15):
            pen.ellipse((h.width + 0.09) * math.cos(a), -0.14 + (h.top + 0.0) * math.sin(a), 0.06, 0.06, c, n=16)
    elif hair.back in ("long", "bob"):
        end = hair.length if hair.back == "long" else h.chin * 0.6
        skull_w, top = h.width + hair.volume + 0.01, h.top + hair.volume + 0.01
        w = skull_w + (0.07 if hair.back == "long" else 0.035)
        th = _lin(np.pi, 2 * np.pi, 24)
        # The sides fall from the skull, widening as they go, and round off at the ends.
        sv = end * _lin(0, 1, 10)
        su = skull_w + (w - skull_w) * np.sin(np.pi / 2 * sv / end) ** 0.6
        su[-1] -= 0.02
        x = _lin(1, -1, 11)
        bv = end + (0.02 * np.abs(np.sin(x * 6)) if hair.back == "long" else -0.01 * (1 - x * x))
        u = np.concatenate([skull_w * np.cos(th), su, x * (w - 0.04), -su[::-1]])
        v = np.concatenate([top * np.sin(th), sv, bv, sv[::-1]])
        pen.poly(u, v, c)
    elif hair.back == "bun":
        pen.ellipse(0.0, -h.top - 0.05, 0.085, 0.075, c)


def _draw_head(pen: _Pen, t: Traits, face: _Outline):
    h = t.head
    skin = h.skin
    for side in (-1, 1):
        cu = side * (face.half_width(0.0) - 0.005) - t.pose.yaw * 0.02
        ry = 0.06 * h.ear_size
        pen.ellipse(cu, 0.0, 0.032 * h.ear_size, ry, skin, tilt=side * 0.15)
        pen.ellipse(cu + side * 0.006, 0.0, 0.016 * h.ear_size, ry * 0.65, _scale(skin, 0.78), tilt=side * 0.15)
    pen.poly(face.u, face.v, skin)


def _draw_shading(masks, t: Traits, face: _Outline):
    """Soft shadows, highlights and blush, drawn into three small grey masks to be blurred."""
    shadow, light, blush = masks
    h, e, n = t.head, t.eyes, t.nose
    lu, lv = t.scene.light
    u, v = face.u, face.v
    # Under the chin, on the neck.
    shadow.ellipse(0, h.chin + 0.02, h.width * 0.7, 0.07, 170)
    # The face's rim on the side away from the light: face minus a shrunk copy moved to the light.
    shadow.poly(u, v, 110)
    shadow.poly(u * 0.8 + lu * 0.04, v * 0.8 - 0.03 + lv * 0.03, 0)
    yaw = t.pose.yaw
    for side in (-1, 1):  # eye sockets
        shadow.ellipse(side * e.spacing + yaw * 0.03, e.v - 0.012, e.width * 0.65, e.width * 0.38, 70)
        light.ellipse(side * (e.spacing + 0.03) + yaw * 0.02, e.v + 0.075, 0.045, 0.025, 70)  # cheekbones
        blush.ellipse(side * (e.spacing + 0.015) + yaw * 0.03, e.v + 0.1, 0.05, 0.032, 255 * t.extras.blush)
    # The side of the nose away from the light, and under its tip.
    nu = yaw * 0.05
    side = -1 if lu > 0 else 1
    shadow.ellipse(nu + side * n.width * 0.7, (e.v + n.tip) / 2 + 0.01, 0.014, (n.tip - e.v) / 2, 120 * n.bridge)
    shadow.ellipse(nu, n.tip + 0.022, n.width * 0.9, 0.011, 110)
    light.ellipse(nu - side * 0.006, n.tip - 0.008, n.width * 0.4, n.width * 0.35, 140)
    light.ellipse(nu - side * 0.004, (e.v + n.tip) / 2, 0.009, (n.tip - e.v) / 2.5, 90 * n.bridge)
    light.ellipse(lu * 0.05, -0.2, 0.09, 0.05, 80)  # forehead
    m = t.mouth  # under the lower lip
    shadow.ellipse(yaw * 0.035, m.v + m.lower + m.open * 0.7 + 0.018, m.width * 0.5, 0.01, 100)


def _shade(image: Image.Image, silhouette: Image.Image, masks, t: Traits) -> Image.Image:
    """Soft shadows, highlights, blush and the directional light, on the person only.

    All of it is smooth, so it is worked out on the small masks, scaled to the output and
    applied there with PIL's uint8 image arithmetic, after the downsampling: far cheaper than
    float maths on the big canvas, and the result is the same to the eye."""
    n, size = _MASK_SIZE, image.width
    m = np.asarray(Image.merge("RGB", [p.image for p in masks]).filter(ImageFilter.GaussianBlur(_MASK_BLUR)),
                   np.float32) * (1 / 255)
    g = (np.arange(n, dtype=np.float32) + 0.5) / n - 0.5
    lu, lv = t.scene.light
    ramp = np.clip(t.scene.light_strength * 2.2 * (g[None, :] * lu + g[:, None] * lv), -0.35, 0.35)
    shade = np.array([0.5, 0.42, 0.45], np.float32)  # shadows on skin go warm, not grey
    mult = (1 - m[..., 0:1] * (1 - shade)) * (1 + np.minimum(ramp, 0))[..., None]
    # Light brightens by scaling (keeps the hue: a screen towards white turns dark skin ashen),
    # plus a faint screen on the highlights for sheen.
    gain = np.repeat((0.8 * np.maximum(ramp, 0) + 0.3 * m[..., 1])[..., None], 3, axis=2)
    sheen = np.repeat((0.12 * m[..., 1])[..., None], 3, axis=2)
    blush = 0.35 * m[..., 2]

    def scaled(a):
        return Image.fromarray((a * 255 + 0.5).astype(np.uint8)).resize((size, size), Image.Resampling.BILINEAR)

    out = ImageChops.multiply(image, scaled(mult))
    out = ImageChops.add(out, ImageChops.multiply(out, scaled(gain)))
    out = ImageChops.screen(out, scaled(sheen))
    out = Image.composite(Image.new("RGB", (size, size), (220, 80, 90)), out, scaled(blush))
    return Image.composite(out, image, silhouette)


def _draw_features(pen: _Pen, t: Traits, face: _Outline):
    h = t.head
    if h.age > 0.35:
        _draw_wrinkles(pen, t)
    _draw_beard(pen, t, face)
    _draw_nose(pen, t)
    _draw_mouth(pen, t)
    if t.extras.moustache:
        _draw_moustache(pen, t)
    for side in (-1, 1):
        _draw_eye(pen, t, side)
        _draw_brow(pen, t, side)


def _draw_wrinkles(pen: _Pen, t: Traits):
    k = (t.head.age - 0.35) * 0.9
    dark = _scale(t.head.skin, 0.6)
    yaw = t.pose.yaw
    x = _lin(0, 1, 8)
    for side in (-1, 1):  # nose-to-mouth folds
        u = yaw * 0.04 + side * (t.nose.width * 1.1 + x * (t.mouth.width * 0.25))
        v = t.nose.tip - 0.005 + x * (t.mouth.v - t.nose.tip + 0.01)
        pen.ribbon(u, v, 0.003 * np.sin(x * np.pi) + 0.0005, dark, alpha=k)
    x = _lin(-1, 1, 10)
    for i in range(2):  # forehead lines
        pen.ribbon(x * 0.09, -0.2 - i * 0.025 + 0.008 * x * x, 0.0025 * (1 - x * x), dark, alpha=k * 0.6)


def _draw_beard(pen: _Pen, t: Traits, face: _Outline):
    x, h = t.extras, t.head
    if x.beard == "none":
        return
    c = t.hair.facial
    mv, nv, mw = t.mouth.v, t.nose.tip, t.mouth.width
    if x.beard == "goatee":
        # A patch from under the lower lip to just past the chin.
        gx = _lin(-1, 1, 13)
        gu = t.pose.yaw * 0.035 + gx * mw * 0.6
        chin = face.bottom(gu * 0.7) + 0.012
        top = mv + t.mouth.lower + t.mouth.open + 0.008 + 0.012 * gx * gx
        pen.poly(np.concatenate([gu, gu[::-1] * 0.7]), np.concatenate([top, chin[::-1]]), c, alpha=0.9)
        return
    # Upper edge: from the sideburns down the cheeks to the mouth corners, then up under the nose.
    ex = _lin(-1, 1, 25)
    ax = np.abs(ex)
    eu = ex * h.width * 1.02
    ev = (nv + 0.03 + (mv - nv - 0.04) * _smoothstep(0.1, 0.45, ax) - (mv - 0.01) * _smoothstep(0.5, 1.0, ax))
    bu = -eu
    bv = face.bottom(bu) * 1.04 + 0.005
    alpha = 0.95 if x.beard == "full" else 0.35
    pen.poly(np.concatenate([eu, bu]), np.concatenate([ev, bv]), c, alpha)


def _draw_moustache(pen: _Pen, t: Traits):
    m, n = t.mouth, t.nose
    x = _lin(-1, 1, 17)
    u = t.pose.yaw * 0.037 + x * (m.width + 0.012)
    # It sits on the upper lip, follows its curve, tapers to the corners and parts under the nose.
    bottom = m.v - m.curve * x * x - m.upper * 0.5 + 0.01 * x ** 4
    depth = np.minimum(bottom - n.tip - 0.014, 0.028)
    top = bottom - depth * (1 - np.abs(x) ** 2.5) + 0.004 * np.exp(-(x / 0.15) ** 2)
    pen.poly(np.concatenate([u, u[::-1]]), np.concatenate([top, bottom[::-1]]), _scale(t.hair.facial, 0.9), 0.95)


def _draw_nose(pen: _Pen, t: Traits):
    n, skin = t.nose, t.head.skin
    cu = t.pose.yaw * 0.05
    dark = _scale(skin, 0.55)
    for side in (-1, 1):
        pen.ellipse(cu + side * n.width * 0.42, n.tip + 0.008, 0.011 * n.size, 0.0055 * n.size, _scale(skin, 0.35),
                    tilt=-side * 0.3)
        # Nostril wing: a short arc curling round each nostril.
        a = _lin(-0.4, 1.7, 8)
        pen.ribbon(cu + side * (n.width * 0.62 + 0.012 * np.cos(a)) * 1.0, n.tip + 0.004 - 0.016 * np.sin(a) * 0.8,
                   0.0032 * np.sin(_lin(0, np.pi, 8)) + 0.0004, dark, alpha=0.85)


def _mouth_curves(m: Mouth, x: np.ndarray):
    """Lip line, opening and lip outlines of the mouth at positions x in -1..1 along its width."""
    line = m.v - m.curve * x * x - m.tilt * x
    bulge = np.sqrt(np.clip(1 - x * x, 0, 1))
    gap_top = line - m.open * m.open_top * bulge
    gap_bottom = line + m.open * (1 - m.open_top) * bulge ** 0.8
    bow = 1 - 0.35 * np.exp(-(x / 0.18) ** 2)  # the dip of the cupid's bow
    upper = gap_top - m.upper * bulge ** 0.7 * bow
    lower = gap_bottom + m.lower * bulge ** 0.6
    return line, gap_top, gap_bottom, upper, lower


def _draw_mouth(pen: _Pen, t: Traits):
    m = t.mouth
    x = _lin(-1, 1, 21)
    line, gap_top, gap_bottom, upper, lower = _mouth_curves(m, x)
    u = t.pose.yaw * 0.035 + x * m.width
    ru, back = np.concatenate([u, u[::-1]]), slice(None, None, -1)
    pen.poly(ru, np.concatenate([upper, gap_top[back]]), _scale(m.lip, 0.88))
    pen.poly(ru, np.concatenate([gap_bottom, lower[back]]), m.lip)
    if m.open > 0:
        pen.poly(ru, np.concatenate([gap_top, gap_bottom[back]]), (70, 22, 28))
        if m.teeth:
            teeth = np.minimum(gap_top + m.open * 0.45, gap_bottom)
            inner = slice(3, -3)
            pen.poly(np.concatenate([u[inner], u[inner][::-1]]),
                     np.concatenate([gap_top[inner], teeth[inner][::-1]]),
                     (238, 234, 226))
    else:
        pen.ribbon(u, line, 0.0035 * np.sqrt(1 - x * x * 0.95), _scale(m.lip, 0.45))
    # Soft lighter sheen on the lower lip.
    pen.ribbon(u[6:15], (lower + gap_bottom)[6:15] / 2 - 0.001, 0.002 * np.sin(_lin(0, np.pi, 9)),
               (255, 255, 255), alpha=0.25)


def _draw_eye(pen: _Pen, t: Traits, side: int):
    e, yaw = t.eyes, t.pose.yaw
    # The eye on the far side of a turned head looks narrower.
    w = e.width * (1 - 0.25 * max(0.0, -side * yaw)) * 0.5
    cu, cv = side * e.spacing + yaw * 0.03, e.v
    x = _lin(-1, 1, 17)
    top = -e.height * (1 - x * x) ** 0.75 * (1 + 0.2 * x * side)
    bottom = e.height * 0.7 * (1 - x * x) ** 0.9

    c, s = math.cos(e.slant * side), math.sin(e.slant * -side)

    def to_head(lx, ly):
        """Eye-local (x along the eye, y down) to head units; slant lifts the outer corner."""
        return cu + c * lx - s * ly, cv + s * lx + c * ly

    lx = x * w
    pen.poly(*to_head(np.concatenate([lx, lx[::-1]]), np.concatenate([top, bottom[::-1]])),
             _mix((238, 234, 228), t.head.skin, 0.12))
    # Iris and pupil: circles clipped to the eye opening, column by column.
    r = e.iris_size * e.width
    gx = e.gaze * w * 0.35 + yaw * w * 0.25
    for radius, colour in ((r, e.iris), (r * 0.45, (12, 10, 10))):
        px = radius * _lin(-1, 1, 13)
        half = np.sqrt(np.clip(radius * radius - px * px, 0, None))
        ex = (gx + px) / w
        lo = np.interp(ex, x, top, left=0, right=0)
        hi = np.interp(ex, x, bottom, left=0, right=0)
        ctop, cbot = np.maximum(-half + e.height * 0.1, lo), np.minimum(half + e.height * 0.1, hi)
        ok = ctop < cbot
        if ok.sum() >= 2:
            qx = (gx + px)[ok]
            pen.poly(*to_head(np.concatenate([qx, qx[::-1]]), np.concatenate([ctop[ok], cbot[ok][::-1]])), colour)
    hu, hv = to_head(gx + r * 0.35 * t.scene.light[0], -r * 0.3)
    pen.ellipse(hu, hv, r * 0.22, r * 0.22, (255, 255, 255), alpha=0.9, n=10)
    # Upper lid line (lashes), thickest towards the outer corner, and a faint crease above it.
    thick = e.liner * (0.35 + 0.65 * np.clip((x * side + 1) / 2, 0, 1)) * np.sqrt(1 - x * x * 0.9)
    pen.ribbon(*to_head(lx, top - thick * 0.4), thick, e.lid)
    pen.ribbon(*to_head(lx * 1.05, top * 1.25 - e.height * 0.55), 0.0022 * np.sqrt(1 - x * x),
               _scale(t.head.skin, 0.6), alpha=0.6)
    pen.ribbon(*to_head(lx, bottom + 0.0015), 0.0018 * np.sqrt(1 - x * x), _scale(t.head.skin, 0.55), alpha=0.6)


def _draw_brow(pen: _Pen, t: Traits, side: int):
    b, e = t.brows, t.eyes
    x = _lin(0, 1, 12)  # 0 at the inner end
    cu = side * e.spacing + t.pose.yaw * 0.03
    u = cu + side * (x - 0.42) * b.length
    v = e.v - e.height - b.lift - b.arch * np.sin(x * np.pi) * 1.2 + b.angle * (x - 0.4) * b.length
    half = b.thickness * 0.5 * (1.0 - 0.75 * x ** 1.5) * np.clip(x * 6 + 0.4, 0, 1)
    pen.ribbon(u, v, half, b.colour, alpha=0.95)


def _draw_front_hair(pen: _Pen, solid: _Pen, t: Traits, face: _Outline):
    h, hair = t.head, t.hair
    c = hair.colour
    if hair.front == "bald":
        return
    u, v = _hair_cap(h, hair)
    if hair.front == "buzz":
        pen.poly(u, v, c, alpha=0.7)
        return
    solid.poly(u, v, c)
    if hair.back == "long" and hair.front in ("middle", "side", "bangs"):
        # Curtains framing the face: over its edges at the temples, thinning out by the jaw.
        vv = -h.top * 0.75 + (0.22 + h.top * 0.75) * _lin(0, 1, 14)
        edge = face.half_width(vv)
        inner = edge - 0.05 * (1 - ((vv - vv[0]) / (vv[-1] - vv[0])) ** 1.5)
        wc, tc = h.width + hair.volume + 0.02, h.top + hair.volume
        outer = np.where(vv < 0, wc * np.sqrt(np.clip(1 - (vv / tc) ** 2, 0, 1)), wc)
        for side in (-1, 1):
            solid.poly(side * np.concatenate([inner, outer[::-1]]), np.concatenate([vv, vv[::-1]]), c)
    if hair.front in ("middle", "side"):
        pu = 0.0 if hair.front == "middle" else hair.part * h.width * 0.6
        pv = float(np.interp(pu, u[len(u) // 2:][::-1], v[len(v) // 2:][::-1]))
        sv = -(h.top + hair.volume) * 0.85 + (pv + (h.top + hair.volume) * 0.85) * _lin(0, 1, 6)
        pen.ribbon(np.full_like(sv, pu) + 0.01 * (sv - pv), sv, 0.003, _scale(c, 0.5), alpha=0.7)
    # Strands: faint darker curves from the crown, bulging over the skull, down to the hairline.
    dark, shine = _scale(c, 0.55), _mix(c, (255, 255, 255), 0.4)
    pu = hair.part * h.width * 0.6 if hair.front == "side" else 0.0
    crown = -(h.top + hair.volume) * 0.92
    s = _lin(0, 1, 9)[:, None]
    half = len(u) // 2
    for k in (-0.8, -0.5, -0.2, 0.2, 0.5, 0.8):
        eu = k * (h.width + hair.volume * 0.5)
        ev = float(np.interp(eu, u[half:][::-1], v[half:][::-1])) - 0.012
        p0, p2 = np.array([pu + k * 0.05, crown]), np.array([eu, ev])
        p1 = np.array([eu * 1.1, (crown + ev) / 2 - 0.04])
        q = (1 - s) ** 2 * p0 + 2 * s * (1 - s) * p1 + s * s * p2  # quadratic Bezier
        pen.ribbon(q[:, 0], q[:, 1], 0.0022 * np.sin(s[:, 0] * np.pi), dark, alpha=0.35)
    # A soft sheen on the lit side of the crown: a few faint nested strokes.
    a = _lin(-0.7, 0.7, 10)
    su = 0.5 * h.width * np.sin(a) + t.scene.light[0] * 0.05
    sv = -(h.top + hair.volume) * 0.8 + 0.03 * a * a
    for w in (0.012, 0.007, 0.003):
        pen.ribbon(su, sv, w * np.cos(a * 2), shine, alpha=0.13)


def _draw_glasses(pen: _Pen, t: Traits):
    x, e = t.extras, t.eyes
    if x.glasses == "none":
        return
    a = _lin(0, 2 * np.pi, 30)
    p = 2.0 if x.glasses == "round" else 5.0   # superellipse: circle or rounded rectangle
    cs, sn = np.cos(a), np.sin(a)
    lx = np.sign(cs) * np.abs(cs) ** (2 / p)
    ly = np.sign(sn) * np.abs(sn) ** (2 / p)
    rw, rh = e.width * 0.78, e.width * (0.62 if x.glasses == "round" else 0.5)
    fw = 0.006
    for side in (-1, 1):
        cu, cv = side * e.spacing + t.pose.yaw * 0.03, e.v + 0.005
        if x.glasses == "sun":
            pen.poly(cu + lx * rw, cv + ly * rh, (20, 20, 26), alpha=0.92)
        else:
            pen.poly(cu + lx * rw, cv + ly * rh, (200, 220, 240), alpha=0.12)
        half = len(a) // 2
        pen.ribbon(cu + lx[:half + 1] * rw, cv + ly[:half + 1] * rh, fw, x.frame)
        pen.ribbon(cu + np.r_[lx[half:], lx[:1]] * rw, cv + np.r_[ly[half:], ly[:1]] * rh, fw, x.frame)
        # Arm towards the ear.
        pen.ribbon(np.array([cu + side * rw, side * (t.head.width + 0.01)]),
                   np.array([cv - rh * 0.5, cv - rh * 0.3]),
                   0.004, x.frame)
    bu = t.pose.yaw * 0.03
    pen.ribbon(bu + _lin(-1, 1, 6) * (e.spacing - rw), e.v - 0.004 * np.sin(_lin(0, np.pi, 6)), 0.0045,
               x.frame)


def _draw_earrings(pen: _Pen, t: Traits, face: _Outline):
    if not t.extras.earrings:
        return
    for side in (-1, 1):
        cu = side * face.half_width(0.05) - t.pose.yaw * 0.02
        pen.ellipse(cu, 0.06 * t.head.ear_size, 0.009, 0.009, (220, 190, 90), n=10)


def _draw(t: Traits, size: int):
    """Draw the flat-coloured picture on a size x size canvas: (canvas, silhouette, shading masks)."""
    canvas = _background(t.scene, size)
    silhouette = Image.new("L", (size, size), 0)
    # Two pens on one canvas: the solid one also marks the person's silhouette.
    solid, pen = _Pen(canvas, t.pose, silhouette), _Pen(canvas, t.pose)
    face = _Outline(t.head)
    _draw_body(solid, t)
    _draw_back_hair(solid, t)
    _draw_head(solid, t, face)
    _draw_features(pen, t, face)
    _draw_front_hair(pen, solid, t, face)
    _draw_glasses(pen, t)
    _draw_earrings(pen, t, face)
    masks = [_Pen(Image.new("L", (_MASK_SIZE, _MASK_SIZE), 0), t.pose) for _ in range(3)]
    _draw_shading(masks, t, face)
    return canvas, silhouette, masks


def _downsample(image: Image.Image, resolution: int) -> Image.Image:
    if image.width % resolution == 0:
        return image.reduce(image.width // resolution)  # box filter: plain area averaging
    return image.resize((resolution, resolution), Image.Resampling.BOX)


def render_face(index: int, resolution: int, seed: int = 0) -> np.ndarray:
    """(resolution, resolution, 3) uint8 RGB face; a pure function of (seed, index, resolution)."""
    if not MIN_RESOLUTION <= resolution <= MAX_RESOLUTION:
        raise ValueError(f"resolution must be in {MIN_RESOLUTION}..{MAX_RESOLUTION}, got {resolution}")
    traits = _sample_traits(np.random.default_rng([seed, index]))
    canvas, silhouette, masks = _draw(traits, max(_MIN_CANVAS, 2 * resolution))
    image = _shade(_downsample(canvas, resolution), _downsample(silhouette, resolution), masks, traits)
    return np.asarray(image, np.uint8)


def render_faces(n: int, resolution: int, seed: int = 0) -> np.ndarray:
    """The first ``n`` built-in faces of ``seed``: (n, resolution, resolution, 3) uint8, the images a
    data set of them starts with."""
    return np.stack([render_face(i, resolution, seed) for i in range(n)])
