"""The prepared-data cache: decode, crop and resize a source once; every later use reads a memory map.

A cache entry is a folder named by a hash of the source's content listing (names, sizes, mtimes or
CRCs) and the preprocessing, holding ``images.u8`` (raw uint8, N x R x R x 3), ``meta.json``
(shape, kept and skipped counts) and ``names.json`` (each kept image's file name, in order; entries
built before it existed lack it). It is built in a ``*.partial-*`` folder and renamed into place only
when complete, so an interrupted build is never found, let alone trusted. Whatever else is computed from
the images once (the curation embeddings) is kept in the same folder, so it goes when the entry does.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Callable

import numpy as np

from ..config import DataConfig
from ..errors import FaceganError
from ..io import atomic_write_json, display_name, fsync_dir
from .decode import REASONS, SkipImage
from .sources import Prep, Source, open_source, resolve_prep
from .subset import load_subset, subset_key

CACHE_VERSION = 1  # bump when the stored format or the preprocessing code changes
EXAMPLES_PER_REASON = 5
STALE_PARTIAL_SECONDS = 6 * 3600

Progress = Callable[[int, int], None]


def cache_root() -> Path:
    env = os.environ.get("FACEGAN_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    import platformdirs
    return Path(platformdirs.user_cache_dir("facegan")) / "prepared"


@dataclass
class PreparedData:
    """A prepared data set: ``images`` is a read-only uint8 memory map shaped (N, R, R, 3)."""

    images: np.ndarray
    path: Path
    key: str
    source: str
    prep: Prep
    kept: int
    skipped: dict[str, int]
    examples: dict[str, list[str]] = field(default_factory=dict)
    reused: bool = False
    seconds: float = 0.0
    names: list[str] | None = None  # each image's file name; None for an entry built without names.json
    subset: dict | None = None      # set by facegan.data.subset when only chosen images are kept

    def summary(self) -> dict:
        """What `prepare --json` prints and what a run records of its data."""
        return {"kept": self.kept, "skipped": self.skipped, "skipped_total": sum(self.skipped.values()),
                "examples": self.examples, "cache": str(self.path), "key": self.key, "source": self.source,
                "resolution": self.prep.resolution, "crop": self.prep.crop, "reused": self.reused,
                "seconds": round(self.seconds, 3), **({"subset": self.subset} if self.subset else {})}


def cache_key(source: Source, prep: Prep) -> str:
    spec = {"v": CACHE_VERSION, "source": source.fingerprint(), **asdict(prep)}
    if prep.crop != "face":
        spec.pop("face_fraction")  # irrelevant to the result, so it must not split the cache
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:20]


def prepare(cfg: DataConfig, *, root: Path | None = None, progress: Progress | None = None,
            workers: int | None = None) -> PreparedData:
    """Prepared images for ``cfg``: reused from the cache when the source and preprocessing are
    unchanged, built (in parallel) otherwise; only the images ``cfg.subset`` keeps, when it names a
    subset file (its own key then, see :mod:`.subset`)."""
    t0 = time.perf_counter()
    source = open_source(cfg)
    prep = resolve_prep(cfg, source)
    key = cache_key(source, prep)
    root = Path(root) if root else cache_root()
    final = root / f"{source.kind}-{prep.resolution}px-{key}"
    data = _open_entry(final, source, prep, key)
    if data is None:
        _clean_stale_partials(root)
        _build(final, source, prep, key, progress, workers)
        data = _open_entry(final, source, prep, key)
        if data is None:
            raise FaceganError(f"the prepared-data cache at {final} could not be read back after building; "
                               "check free disk space and permissions, or set FACEGAN_CACHE_DIR elsewhere")
    else:
        data.reused = True
    if cfg.subset:
        data = _keep_subset(data, cfg.subset)
    data.seconds = time.perf_counter() - t0
    return data


def _open_entry(folder: Path, source: Source, prep: Prep, key: str) -> PreparedData | None:
    """The cache entry at ``folder`` if it is complete and consistent, else None (it is rebuilt)."""
    try:
        meta = json.loads((folder / "meta.json").read_text())
        n, r = int(meta["kept"]), prep.resolution
        if meta.get("version") != CACHE_VERSION or meta.get("key") != key:
            return None
        if (folder / "images.u8").stat().st_size != n * r * r * 3:
            return None
    except (OSError, ValueError, KeyError, TypeError):
        return None
    images = np.memmap(folder / "images.u8", dtype=np.uint8, mode="r", shape=(n, r, r, 3))
    return PreparedData(images, folder, key, source.describe(), prep, n, meta["skipped"], meta["examples"],
                        names=_names(folder, source, n))


def _keep_subset(data: PreparedData, path: str) -> PreparedData:
    """Only the images the subset file ``path`` keeps (in memory), under a key of their own: reference
    statistics, evaluations and resumes then never mix the subset with the whole set."""
    keep, info = load_subset(path, data.key, data.kept)
    return replace(data, images=np.ascontiguousarray(data.images[keep]), key=subset_key(data.key, keep),
                   kept=len(keep), names=[data.names[i] for i in keep] if data.names else None, subset=info)


def _names(folder: Path, source: Source, kept: int) -> list[str] | None:
    """The kept images' file names: from names.json, or (an entry built before it) the source's entries
    when none was skipped while loading; None when that cannot be known without decoding again."""
    try:
        names = json.loads((folder / "names.json").read_text())
        if isinstance(names, list) and len(names) == kept:
            return names
    except (OSError, ValueError):
        pass
    return [display_name(e.name) for e in source.entries] if len(source.entries) == kept else None


def _build(final: Path, source: Source, prep: Prep, key: str, progress: Progress | None,
           workers: int | None) -> None:
    n, r = len(source.entries), prep.resolution
    partial = final.with_name(f"{final.name}.partial-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    partial.mkdir(parents=True)
    try:
        out = np.memmap(partial / "images.u8", dtype=np.uint8, mode="w+", shape=(max(n, 1), r, r, 3))
        reasons: list[str | None] = [None] * n
        done, lock = 0, threading.Lock()

        def work(i: int) -> None:
            nonlocal done
            try:
                out[i] = source.load(i, prep)  # noqa: F821 (bound above; `del out` below closes the memmap)
            except SkipImage as e:
                reasons[i] = e.reason
            with lock:
                done += 1
                if progress:
                    progress(done, n)

        # Pillow releases the GIL while decoding and resizing, so threads scale without the start-up
        # cost and fork-safety problems of processes (this also runs inside the dashboard's threads).
        with ThreadPoolExecutor(max_workers=workers or min(8, os.cpu_count() or 1)) as pool:
            for _ in pool.map(work, range(n)):
                pass

        keep = [i for i in range(n) if reasons[i] is None]
        skipped: dict[str, int] = {}
        examples: dict[str, list[str]] = {}
        for reason, names in source.skipped_entries.items():
            skipped[reason] = len(names)
            examples[reason] = [display_name(x) for x in names[:EXAMPLES_PER_REASON]]
        for i, reason in enumerate(reasons):
            if reason is not None:
                skipped[reason] = skipped.get(reason, 0) + 1
                ex = examples.setdefault(reason, [])
                if len(ex) < EXAMPLES_PER_REASON:
                    ex.append(display_name(source.entries[i].name))
        if not keep:
            raise FaceganError(f"no usable image in {source.describe()}: {len(source.entries)} image files, "
                               f"all skipped ({_reason_text(skipped)}); point data.source at a folder or "
                               "zip of readable JPEG/PNG/WebP/BMP faces")
        # Compact the kept images to the front in place, then cut the file to size.
        for dst, src in enumerate(keep):
            if dst != src:
                out[dst] = out[src]
        out.flush()
        del out
        with open(partial / "images.u8", "r+b") as f:
            f.truncate(len(keep) * r * r * 3)
            os.fsync(f.fileno())
        atomic_write_json(partial / "names.json", [display_name(source.entries[i].name) for i in keep], indent=None)
        atomic_write_json(partial / "meta.json", {
            "version": CACHE_VERSION, "key": key, "source": source.describe(), "kept": len(keep),
            "resolution": r, "crop": prep.crop, "skipped": skipped, "examples": examples,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S")})
        if final.exists():
            if _open_entry(final, source, prep, key) is not None:  # a concurrent build finished first
                shutil.rmtree(partial, ignore_errors=True)
                return
            # A damaged entry: move it out of the way first, so no reader ever sees a half-deleted one.
            doomed = final.with_name(f"{final.name}.partial-{os.getpid()}-{uuid.uuid4().hex[:8]}-old")
            os.rename(final, doomed)
            shutil.rmtree(doomed, ignore_errors=True)
        os.rename(partial, final)
        fsync_dir(final.parent)
    except OSError as e:
        shutil.rmtree(partial, ignore_errors=True)
        raise FaceganError(f"could not write the prepared-data cache in {final.parent}: {e.strerror or e}; "
                           "free some disk space or set FACEGAN_CACHE_DIR to another folder") from None
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise


def _reason_text(skipped: dict[str, int]) -> str:
    return ", ".join(f"{n} {REASONS.get(k, k)}" for k, n in sorted(skipped.items(), key=lambda kv: -kv[1]))


def _clean_stale_partials(root: Path) -> None:
    """Remove partial builds left by killed processes (the live ones are younger than the limit)."""
    if not root.is_dir():
        return
    now = time.time()
    for p in root.glob("*.partial-*"):
        try:
            if now - p.stat().st_mtime > STALE_PARTIAL_SECONDS:
                shutil.rmtree(p, ignore_errors=True)
        except OSError:
            pass
