"""Data: which faces to learn from, how they are cropped and sized, a check of what was kept, and a
closer look (groups of similar faces, unusual images, near-copies) to train on the part you choose."""

import dataclasses
import json

import numpy as np
import pandas as pd
import streamlit as st

from dashboard import cached, settings
from dashboard.config_form import field_widget
from dashboard.forms import SOURCE_KINDS, collect, field_specs, parse_source, source_string
from dashboard.page import page_header, path_exists, run_with_progress
from dashboard.store import bind, choices, values
from facegan.data.cache import prepare
from facegan.data.curate import curate, selection
from facegan.data.decode import REASONS
from facegan.data.subset import subset_key, write_subset
from facegan.data.uploads import save_upload
from facegan.errors import FaceganError
from facegan.images import grid

SPECS = {s.name: s for s in field_specs("data")}
PREVIEW = 48
UNUSUAL_SHOWN = 24
COPIES_SHOWN = 12


page_header("Data", "Choose the faces the network learns from. Your choice carries over to the Train page.",
              "pages/data.py")
store = values()
picked = choices()  # the kind of source and the path typed for each kind: the page's, not the config's

kind0, path0 = parse_source(store.get("data.source", "synthetic"), settings.uploads_root())
if "data_kind" not in picked:
    picked["data_kind"] = kind0
    picked[f"data_path.{kind0}"] = path0

left, right = st.columns([2, 3], gap="large")

with left:
    kinds = list(SOURCE_KINDS)
    kind = st.radio("Where do the faces come from?", kinds, key="data_kind", format_func=SOURCE_KINDS.get,
                    **bind("data_kind", "data_kind", "synthetic", kinds))
    path = picked.get(f"data_path.{kind}", "")

    if kind == "synthetic":
        st.caption("Cartoon-like faces that facegan draws itself: no download, ready at once.")
        c1, c2 = st.columns(2)
        with c1:
            field_widget(SPECS["synthetic_count"], prefix="data_page")
        with c2:
            field_widget(SPECS["synthetic_seed"], prefix="data_page")
    elif kind == "upload":
        st.caption("A .zip of face photos (jpg, png, webp or bmp). It is checked, then kept in facegan's "
                   "data cache folder; nothing is unpacked.")
        up = st.file_uploader("Zip of face photos", type=["zip"], key="data_upload")
        if up is not None and picked.get("upload_id") != up.file_id:
            try:
                saved, report = save_upload(up.name, up, settings.uploads_root())
            except FaceganError as e:
                st.error(str(e), icon=":material/error:")
            else:
                picked["upload_id"] = up.file_id
                picked["upload_report"] = f"{report.images:,} image files in {report.members:,} files"
                path = str(saved)
        if path:
            st.success(f"Using **{path.rsplit('/', 1)[-1]}** — {picked.get('upload_report', 'uploaded zip')}",
                       icon=":material/check_circle:")
    else:
        hints = {"folder": ("Folder or .zip path", "/home/me/faces  or  /home/me/faces.zip",
                            "Every image below this folder is used (or every image inside the zip)."),
                 "celeba": ("Path to CelebA's img_align_celeba (folder or zip)", "/data/img_align_celeba.zip",
                            "CelebA is for non-commercial research only; facegan reads it where it is and "
                            "never copies it. Crop 'auto' cuts a square around the face."),
                 "ffhq": ("Path to FFHQ's images (folder or zip)", "/data/ffhq",
                          "FFHQ's aligned faces; crop 'auto' keeps the centred square.")}
        label, placeholder, caption = hints[kind]
        st.caption(caption)
        path = st.text_input(label, key="data_path", placeholder=placeholder,
                             **bind("data_path", f"data_path.{kind}", "")).strip()
        if path and not path_exists(path):
            st.error(f"Nothing found at {path}", icon=":material/error:")
    picked[f"data_path.{kind}"] = path
    store["data.source"] = source_string(kind, path)

    c1, c2 = st.columns(2)
    with c1:
        field_widget(SPECS["resolution"], prefix="data_page")
    with c2:
        crop = field_widget(SPECS["crop"], prefix="data_page")
    if crop == "face" or (crop == "auto" and kind == "celeba"):
        field_widget(SPECS["face_fraction"], prefix="data_page")
    with st.expander("More options"):
        field_widget(SPECS["limit"], prefix="data_page")
        field_widget(SPECS["min_size"], prefix="data_page")
        field_widget(SPECS["flip"], prefix="data_page")

    cfg, errors = collect({k: v for k, v in store.items() if k.startswith("data.")})
    for msg in errors.values():
        st.error(msg, icon=":material/error:")
    ready = cfg is not None and bool(store["data.source"])
    go = st.button("Prepare and check", type="primary", icon=":material/fact_check:", disabled=not ready,
                   help="Reads every image once, crops and resizes it, and keeps the result for training "
                        "(the next time this is instant).")
    st.page_link("pages/train.py", label="Next: train on these faces", icon=":material/arrow_forward:")

# The check and the closer look are of the whole data set; a selection chosen below is applied by training.
whole = dataclasses.replace(cfg.data, subset=None) if cfg else None
with right:
    data_key = json.dumps(dataclasses.asdict(whole), sort_keys=True) if whole else None
    if go and whole is not None:
        try:
            data = run_with_progress(lambda progress: prepare(whole, progress=progress),
                                       "Preparing the faces")
        except FaceganError as e:
            st.error(str(e), icon=":material/error:")
        else:
            st.session_state["data_preview"] = {"key": data_key, "summary": data.summary(),
                                                "grid": grid(np.array(data.images[:PREVIEW]), ncols=12)}
    shown = st.session_state.get("data_preview")
    if shown and shown["key"] == data_key:
        s = shown["summary"]
        st.subheader("What will be used", anchor=False)
        m1, m2, m3 = st.columns(3)
        m1.metric("Faces kept", f"{s['kept']:,}")
        m2.metric("Files skipped", f"{s['skipped_total']:,}")
        m3.metric("Size", f"{s['resolution']} px", help=f"crop: {s['crop']}")
        st.image(shown["grid"], caption=f"The first {min(PREVIEW, s['kept'])} prepared faces", width="stretch")
        if s["skipped_total"]:
            st.markdown("**Why files were skipped**")
            rows = [{"reason": REASONS.get(r, r), "files": n, "examples": ", ".join(s["examples"].get(r, []))}
                    for r, n in sorted(s["skipped"].items(), key=lambda kv: -kv[1])]
            st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
        else:
            st.caption("No file was skipped.")
        st.caption(("Reused the prepared copy" if s["reused"] else f"Prepared in {s['seconds']:.1f} s")
                   + f" · {s['source']} · kept in `{s['cache']}`")
    elif kind == "synthetic" and cfg is not None:
        st.subheader("A first look", anchor=False)
        st.image(grid(cached.builtin_faces(PREVIEW, cfg.data.resolution, cfg.data.synthetic_seed), ncols=12),
                 width="stretch",
                 caption=f"The first {PREVIEW} of {cfg.data.synthetic_count:,} built-in faces at "
                         f"{cfg.data.resolution} px")
        st.caption("Press **Prepare and check** to draw them all now, or just start training: it prepares "
                   "them itself.")
    else:
        st.info("Choose the faces on the left, then press **Prepare and check** to see them here with a count "
                "of what was kept and skipped.", icon=":material/info:")

if shown and shown["key"] == data_key:
    st.divider()
    st.subheader("Look closer", anchor=False)
    st.caption("Groups of similar faces, unusual images and near-copies, as an image network "
               "(EfficientNet-Lite0) sees them. Untick what the generator should not learn from, then train "
               "on the rest.")
    data = cached.prepared(whole)
    if store.get("data.subset"):
        c1, c2 = st.columns([4, 1])
        c1.info(f"Training uses a selection of these faces (`{store['data.subset']}`).", icon=":material/filter_alt:")
        if c2.button("Use all faces", icon=":material/select_all:"):
            store["data.subset"] = None
            st.rerun()
    found = st.session_state.get("curation")
    if found is None or found.data_key != data.key:
        found = None
        if st.button("Look closer", icon=":material/search:", key="look_closer",
                     help="Describes every face with an image network once (about 3 minutes for 10,000 faces on "
                          "2 CPU cores; seconds the next time), then groups them."):
            try:
                found = run_with_progress(lambda progress: curate(data, progress=progress), "Looking at every face")
            except FaceganError as e:
                st.error(str(e), icon=":material/error:")
            else:
                st.session_state["curation"] = found
    if found is not None:
        images = data.images
        st.markdown(f"**{found.k} groups of similar faces** (the most typical of each)")
        kept_groups = []
        for c in found.clusters:
            c1, c2 = st.columns([1, 6], vertical_alignment="center")
            if c1.checkbox(f"Group {c['id']}", value=True, key=f"look_group_{c['id']}"):
                kept_groups.append(c["id"])
            c1.caption(f"{c['size']:,} faces")
            c2.image(grid(np.asarray(images[c["typical"]]), ncols=len(c["typical"])), width="stretch")
        c1, c2 = st.columns(2, gap="large")
        with c1:
            st.markdown(f"**Unusual images: {len(found.outliers)}**")
            drop_unusual = st.checkbox("Leave them out", value=bool(found.outliers), key="look_unusual",
                                       disabled=not found.outliers)
            if found.outliers:
                more = f" ({UNUSUAL_SHOWN} of {len(found.outliers)})" if len(found.outliers) > UNUSUAL_SHOWN else ""
                st.image(grid(np.asarray(images[found.outliers[:UNUSUAL_SHOWN]]), ncols=8), width="stretch",
                         caption="Far from every group, the most unusual first" + more)
        with c2:
            st.markdown(f"**Near-copies: {len(found.duplicates)} groups**")
            drop_copies = st.checkbox("Keep one image of each", value=bool(found.duplicates), key="look_copies",
                                      disabled=not found.duplicates)
            if found.duplicates:
                pairs = [i for g in found.duplicates[:COPIES_SHOWN] for i in g[:2]]
                st.image(grid(np.asarray(images[pairs]), ncols=8), width="stretch",
                         caption="Each pair: an image and its copy (mirrored, moved, recompressed or re-lit)")
        keep = selection(found, keep_clusters=kept_groups, drop_outliers=drop_unusual, drop_duplicates=drop_copies)
        st.metric("Faces kept", f"{len(keep):,} of {data.kept:,}")
        if st.button("Train on this selection", type="primary", icon=":material/arrow_forward:", key="look_train",
                     disabled=len(keep) == 0):
            note = f"groups {', '.join(map(str, kept_groups))}" + \
                "; unusual images left out" * drop_unusual + "; one of each near-copy group" * drop_copies
            path = settings.subsets_root() / f"{data.key}-{subset_key(data.key, keep)}.json"
            store["data.subset"] = str(write_subset(path, data.key, data.kept, keep, note))
            st.switch_page("pages/train.py")
