"""Explore: faces from a trained run — new ones at the press of a button, one face up close with more
like it, sliders that change a face, smooth morphs, a looping video, the training GIF, and files to share."""

import random
import tempfile
from pathlib import Path

import streamlit as st

from dashboard import cached
from dashboard.page import page_header, run_with_progress, stopped_result
from dashboard.pickers import pick_trained_run
from facegan.demo import celeba_data, is_demo
from facegan.errors import FaceganError
from facegan.export import export_generator
from facegan.generate import latents, nearby
from facegan.images import grid, png_bytes
from facegan.metrics import human
from facegan.visual import directions as dirs
from facegan.visual import project as pj
from facegan.visual import video

page_header("Explore", "Draw new faces from a trained network, change them with sliders, morph one into another, "
                         "and download them to share.", "pages/explore.py")

run, which = pick_trained_run("explore", "No trained run yet. Train one first on the Train page "
                                "(the built-in faces need no download).")

try:
    G, cfg, info = cached.generator(run.path, which)
except FaceganError as e:
    st.error(str(e), icon=":material/error:")
    st.stop()

res = cfg.data.resolution
st.caption(f"{run.preset} · {res} px · checkpoint from epoch {info['epoch']} (step {info['step']:,})"
           + (" · smoothed (EMA) weights" if info["ema"] else "") + f" · trained on {run.source or 'faces'}")
scale = max(1, 96 // res)  # small faces are shown larger, pixels kept sharp


def new_seed() -> None:
    st.session_state["explore_seed"] = random.randrange(0, 2**31 - 1)


truncation = st.slider("Variety", 0.1, 1.0, 1.0, 0.05, key="explore_truncation",
                       help="Lower: faces closer to the network's average face, fewer odd ones, less variety "
                            "(the truncation trick, PSI). 1: the full variety the network learned.")

tab_faces, tab_sliders, tab_photo, tab_walk, tab_game, tab_gif, tab_files = st.tabs(
    ["New faces", "Face sliders", "From a photo", "Morphs", "Real or fake?", "Training GIF", "Downloads"])

with tab_faces:
    c1, c2, c3 = st.columns([1, 1, 2], vertical_alignment="bottom")
    with c1:
        n = st.selectbox("How many", [16, 36, 64], index=1, key="explore_n")
    with c2:
        if "explore_seed" not in st.session_state:
            st.session_state["explore_seed"] = 0
        seed = st.number_input("Seed", min_value=0, max_value=2**31 - 1, step=1, key="explore_seed",
                               help="The same seed always draws the same faces from this checkpoint.")
    with c3:
        st.button("New faces", icon=":material/casino:", on_click=new_seed, type="primary", key="explore_new")
    faces = cached.faces_for(run.path, which, int(n), int(seed), float(truncation))
    faces_png = png_bytes(grid(faces), scale=scale)
    c1, c2 = st.columns([3, 2], gap="large")
    with c1:
        st.image(faces_png, caption=f"{n} invented faces (seed {seed})", width="stretch")
    with c2:
        st.markdown("**None of these people exist.** Each face is drawn from a different list of random "
                    "numbers; the seed picks the lists, so the same seed brings the same faces back.")
        st.caption("Blurry or alike faces mean the network needs more training (or more varied photos).")
        st.download_button("Download these faces", faces_png, file_name=f"{run.name}-faces-seed{seed}.png",
                           mime="image/png", icon=":material/download:", on_click="ignore", key="dl_faces_here")

    st.subheader("One face up close", anchor=False)
    c1, c2 = st.columns([2, 3], gap="large")
    with c1:
        p1, p2 = st.columns(2)
        if st.session_state.get("explore_pick", 1) > n:  # fewer faces drawn than the number picked
            st.session_state["explore_pick"] = int(n)
        pick = int(p1.number_input("Face number", min_value=1, max_value=int(n), value=1, step=1,
                                   key="explore_pick", help="Counting from the top left, row by row. The face "
                                                            "sliders start from this face too."))
        smooth = p2.radio("Enlarged", ["sharp", "smooth"], key="explore_enlarge", horizontal=True,
                          help="Sharp: every pixel the network drew, as a square. Smooth: softened (Lanczos), "
                               "which looks less like pixels.") == "smooth"
        face_png = png_bytes(faces[pick - 1], scale=4, smooth=smooth)
        st.image(face_png, caption=f"Face {pick}, 4 times larger", width=min(400, 4 * res))
        st.download_button("Download this face", face_png, file_name=f"{run.name}-seed{seed}-face{pick}.png",
                           mime="image/png", icon=":material/download:", on_click="ignore", key="dl_one_face")
    with c2:
        m1, m2 = st.columns([3, 1], vertical_alignment="bottom")
        spread = m1.slider("How different", 0.1, 1.0, 0.4, 0.05, key="explore_spread",
                           help="How far the faces below may stray from the chosen one: low keeps its look "
                                "and changes details, high gives faces that share little with it.")
        if "explore_like_seed" not in st.session_state:
            st.session_state["explore_like_seed"] = 0
        m2.button("Others", icon=":material/casino:", key="explore_like_new",
                  on_click=lambda: st.session_state.update(explore_like_seed=random.randrange(0, 2**31 - 1)))
        z_pick = latents(int(n), G.latent_dim, int(seed), float(truncation))[pick - 1]
        like = cached.images_from(run.path, which, nearby(z_pick, 16, float(spread),
                                                          int(st.session_state["explore_like_seed"])).numpy())
        st.image(png_bytes(grid(like, ncols=8), scale=scale), caption=f"More like face {pick}", width="stretch")

with tab_sliders:
    try:
        found, ckpt_file = cached.directions(run.path, which)
    except FaceganError as e:
        st.error(str(e), icon=":material/error:")
    else:
        names = dirs.load_names(ckpt_file, found)
        st.caption(f"Face {pick} of the **New faces** tab (seed {seed}). Each slider moves it along one of the "
                   f"{found.k} directions that change this network's faces the most, found without any labels "
                   "(GANSpace). What a slider does is for you to discover: give it a name once you see it "
                   "(the name is saved with the run).")

        def rename(i: int, key: str) -> None:
            try:
                dirs.save_name(ckpt_file, found, i, st.session_state.get(key, ""))
            except FaceganError as e:
                st.session_state["explore_slider_msg"] = str(e)

        def reset() -> None:
            for i in range(found.k):
                st.session_state[f"explore_slider.{i}"] = 0.0

        left, right = st.columns([2, 5], gap="large")
        amounts = [float(st.session_state.get(f"explore_slider.{i}", 0.0)) for i in range(found.k)]
        with right:
            if msg := st.session_state.pop("explore_slider_msg", None):
                st.error(msg, icon=":material/error:")
            for i in range(found.k):
                c1, c2, c3 = st.columns([2, 2, 4], vertical_alignment="center")
                name_key = f"explore_name.{ckpt_file}.{i}"
                if name_key not in st.session_state:
                    st.session_state[name_key] = names[i]
                c1.text_input(f"Slider {i + 1}", key=name_key, placeholder=f"name slider {i + 1}", max_chars=40,
                              on_change=rename, args=(i, name_key), label_visibility="collapsed")
                amounts[i] = c2.slider(names[i] or f"Slider {i + 1}", -3.0, 3.0, 0.0, 0.25,
                                       key=f"explore_slider.{i}", label_visibility="collapsed")
                others = amounts[:i] + [0.0] + amounts[i + 1:]
                base = dirs.move(z_pick, found, others)
                strip = cached.images_from(run.path, which, dirs.strip(base, found, i).numpy())
                c3.image(png_bytes(grid(strip, ncols=len(strip)), scale=max(1, 48 // res)), width="stretch")
            st.caption("Each strip shows the face with that slider at −3, −2, −1, 0, +1, +2 and +3 (the others "
                       "as set); ±3 reaches the edge of what the network saw in training.")
        with left:
            moved_z = dirs.move(z_pick, found, amounts).reshape(1, -1, 1, 1)
            moved = cached.images_from(run.path, which, moved_z.numpy())
            moved_png = png_bytes(moved[0], scale=4, smooth=smooth)
            st.image(moved_png, caption="The face with the sliders as set", width="stretch")
            st.button("Reset the sliders", icon=":material/restart_alt:", key="explore_slider_reset", on_click=reset)
            st.download_button("Download this face", moved_png, mime="image/png", icon=":material/download:",
                               file_name=f"{run.name}-seed{seed}-face{pick}-edited.png", on_click="ignore",
                               key="dl_moved_face")

with tab_walk:
    st.caption("Every face comes from a list of random numbers. Walking smoothly from one list to another "
               "morphs one face into another — a sign that the network learned faces, not copies.")
    c1, c2, c3, c4, c5 = st.columns([2, 2, 2, 3, 2])
    with c1:
        mode = st.radio("Kind", ["1d", "2d"], key="explore_mode", horizontal=True,
                        format_func={"1d": "Rows", "2d": "Grid"}.get,
                        help="Rows: each row morphs one face into another. Grid: four corner faces blend "
                             "across a square.")
    with c2:
        steps = st.slider("Steps", 3, 16, 8, key="explore_steps")
    with c3:
        rows = st.slider("Rows", 1, 8, 4, key="explore_rows", disabled=mode == "2d")
    with c4:
        path = st.radio("Path", ["slerp", "lerp"], key="explore_path", horizontal=True,
                        format_func={"slerp": "Curved (slerp)", "lerp": "Straight (lerp)"}.get,
                        help="Curved paths stay where the network's inputs usually are, so the middle faces "
                             "look as natural as the ends.")
    with c5:
        walk_seed = st.number_input("Seed of the end faces", min_value=0, max_value=2**31 - 1, value=1, step=1,
                                    key="explore_walk_seed")
    imgs = cached.walk_for(run.path, which, mode, int(steps), int(rows), int(walk_seed), path == "slerp",
                           float(truncation))
    walk_png = png_bytes(grid(imgs, ncols=int(steps)), scale=scale)
    st.image(walk_png, caption=("Each row: one face morphing into another" if mode == "1d"
                                else "Four corner faces blended across the grid"),
             width=min(1000, (res * scale + 2) * int(steps)))

with tab_photo:
    st.caption("Give a photo of a face: it is cropped to the face as the training photos were, then the network "
               "searches for the face it can draw that looks most like it. Expect a likeness, not a copy: the "
               "network can only draw the kinds of faces it learned. The photo stays on this computer.")
    up = st.file_uploader("A photo of a face", type=["jpg", "jpeg", "png", "webp", "bmp"], key="explore_photo")
    photo = None
    if up is not None:
        try:
            photo, auto = cached.photo_and_face(up.getvalue(), up.name)
        except FaceganError as e:
            st.error(str(e), icon=":material/error:")
    if photo is not None:
        h, w = photo.shape[:2]
        cx0, cy0, side0 = pj.square_of(auto.box, w, h)
        if auto.found:
            st.success("Found a face. Move the box below if the crop is off.", icon=":material/face:")
        else:
            st.warning("No face found: the centre of the photo is used. Move the box below onto the face.",
                       icon=":material/warning:")
        k1, k2, k3, k4 = st.columns(4)
        cx = k1.slider("Across", 0.0, 1.0, round(cx0, 3), 0.005, key=f"explore_crop_x.{up.file_id}")
        cy = k2.slider("Down", 0.0, 1.0, round(cy0, 3), 0.005, key=f"explore_crop_y.{up.file_id}")
        side = k3.slider("Size", 0.05, 1.0, round(min(1.0, side0), 3), 0.005, key=f"explore_crop_size.{up.file_id}")
        steps = k4.select_slider("Search steps", [50, 100, 200, 300, 500], value=pj.STEPS, key="explore_project_steps",
                                 help="More steps find a closer face and take longer (about 0.1 s a step on a "
                                      "2-core CPU at 64 px).")
        box = pj.square_at(cx, cy, side, w, h)
        target = pj.crop(photo, box, res)
        wanted = (up.file_id, box, which, int(steps))
        left_over = stopped_result("explore_project_stop")
        if left_over is not None:
            st.session_state["explore_projection"] = (wanted, left_over)
        c1, c2, c3 = st.columns([1, 1, 3], gap="medium")
        c1.image(png_bytes(target, scale=max(1, 192 // res), smooth=True), caption="The photo as the network sees it",
                 width="stretch")
        with c3:
            if st.button("Find this face", type="primary", icon=":material/search:", key="explore_project_go"):
                try:
                    found_face = run_with_progress(
                        lambda progress: pj.project(G, target, int(steps), progress=progress),
                        "Searching", stop_key="explore_project_stop", stopped=pj.Stopped)
                except FaceganError as e:
                    st.error(str(e), icon=":material/error:")
                else:
                    st.session_state["explore_projection"] = (wanted, found_face)
        shown = st.session_state.get("explore_projection")
        if shown and shown[0][:3] == wanted[:3]:
            p = shown[1]
            result_png = png_bytes(p.image, scale=max(1, 192 // res), smooth=True)
            c2.image(result_png, caption="The closest face it draws", width="stretch")
            with c3:
                n_steps = len(p.losses)
                st.caption(("Stopped early: the closest face so far. " if p.stopped else "")
                           + f"{n_steps} step{'s' if n_steps != 1 else ''} in {p.seconds:.0f} s; pixel difference "
                           f"{p.mse:.4f} (0 would be the same picture).")
                morph = cached.images_from(run.path, which, pj.morph_latents(p.z).numpy())
                st.image(png_bytes(grid(morph, ncols=8), scale=scale), width="stretch",
                         caption="The face found, morphing into a random one")
                d1, d2 = st.columns(2)
                d1.download_button("Download the face", result_png, file_name=f"{run.name}-from-photo.png",
                                   mime="image/png", icon=":material/download:", on_click="ignore", key="dl_projected")
                d2.download_button("Download its latent (.npy)", pj.latent_npy(p.z), file_name=f"{run.name}-latent.npy",
                                   mime="application/octet-stream", icon=":material/download:", on_click="ignore",
                                   key="dl_latent")

with tab_game:
    real_data = celeba_data(res) if is_demo(run) else None  # a run plays against its own data
    if is_demo(run) and real_data is None:
        st.info("The demo generator learned from CelebA, and the game shows real CelebA faces beside its own. "
                "Point FACEGAN_CELEBA_ZIP at a CelebA zip or img_align_celeba folder and restart the dashboard.",
                icon=":material/info:")
    else:
        st.caption(f"{human.ROUNDS} rounds. Each shows a face it invented and a real face from the photos it "
                   f"learned from ({run.source or 'its data'}; no other photos are shown), in random order. Click "
                   "the one you think is invented. Every answer is saved with the run, and Evaluate shows how often "
                   "people were fooled.")
        game_key = f"explore_game.{run.name}"

        def start_game() -> None:
            st.session_state[game_key] = human.new_game(cached.real_count(run.path, real_data))

        def pick_fake(game: human.Game, round_: int, side: str) -> None:
            try:
                human.answer(run.path, game, round_, side)
            except FaceganError as e:
                st.session_state["explore_game_msg"] = str(e)

        game = st.session_state.get(game_key)
        if game is None:
            st.button("Play", type="primary", icon=":material/sports_esports:", key="explore_game_start",
                      on_click=start_game)
        else:
            if msg := st.session_state.pop("explore_game_msg", None):
                st.error(msg, icon=":material/error:")
            r = game.next_round
            if r is not None:
                real = cached.real_images(run.path, [game.real_indices[r]], None, real_data)[0]
                fake = cached.images_from(run.path, which, latents(game.rounds, G.latent_dim, game.seed)[r:r + 1]
                                          .numpy())[0]
                shown = {game.real_sides[r]: real, ("right" if game.real_sides[r] == "left" else "left"): fake}
                st.markdown(f"**Round {r + 1} of {game.rounds}.** Which face did the network invent?")
                cols = st.columns(2)
                for col, side in zip(cols, human.SIDES):
                    with col:
                        st.image(png_bytes(shown[side], scale=max(1, 256 // res), smooth=True), width=256)
                        st.button("This one is invented", key=f"explore_game_{side}", on_click=pick_fake,
                                  args=(game, r, side), icon=":material/smart_toy:")
                st.caption(f"Spotted so far: {game.spotted()} of {len(game.answers)}")
            else:
                spotted = game.spotted()
                st.success(f"You spotted the invented face in **{spotted} of {game.rounds}** rounds.",
                           icon=":material/emoji_events:")
                st.caption("Spotting every one means the network's faces still give themselves away; about half "
                           "(a coin toss) means you could not tell them from real photos.")
                st.button("Play again", icon=":material/replay:", key="explore_game_again", on_click=start_game)
        people = human.fooled_rate(human.read_log(run.path))
        if people:
            st.caption(f"All games on this network: people took the invented face for the real one in "
                       f"{people['fooled']} of {people['rounds']} rounds ({people['rate']:.0%}; 95% interval "
                       f"{people['low']:.0%} to {people['high']:.0%}).")

with tab_gif:
    gif = cached.training_gif(run.path)
    if gif is None:
        st.caption("This run has no epoch grids yet.")
    else:
        st.image(gif, caption="The same faces after every epoch of training", width=560)

with tab_files:
    st.markdown("**A looping video**")
    st.caption("A smooth walk through a few random faces, each morphing into the next and the last back into "
               "the first, so it plays round without a jump.")
    formats = {".mp4": "MP4 video (720 px)", ".gif": "GIF (256 px)", ".webp": "animated WebP (256 px)"}
    if not video.has_mp4():
        formats.pop(".mp4")
    v1, v2, v3, v4 = st.columns([2, 2, 3, 2], vertical_alignment="bottom")
    walk_faces = v1.slider("Faces", 2, 12, 6, key="explore_video_faces")
    walk_seconds = v2.slider("Seconds", 3, 30, 12, key="explore_video_seconds")
    fmt = v3.radio("Format", list(formats), format_func=formats.get, key="explore_video_format", horizontal=True)
    make = v4.button("Make the video", icon=":material/movie:", key="explore_video_make")
    wanted = (run.path, which, walk_faces, walk_seconds, fmt, int(seed), float(truncation))
    if make:
        try:
            st.session_state["explore_video"] = (wanted, cached.walk_video(*wanted))
        except FaceganError as e:
            st.error(str(e), icon=":material/error:")
    made = st.session_state.get("explore_video")
    if made and made[0] == wanted:
        data = made[1]
        if fmt == ".mp4":
            st.video(data, format="video/mp4", loop=True, autoplay=True, muted=True, width=360)
        else:
            st.image(data, width=256)
        st.download_button(f"Download the {formats[fmt].split(' (')[0]}", data,
                           file_name=f"{run.name}-walk-seed{seed}{fmt}", icon=":material/download:",
                           mime={".mp4": "video/mp4", ".gif": "image/gif", ".webp": "image/webp"}[fmt],
                           on_click="ignore", key="dl_video")
    st.markdown("**Files**")
    st.caption("Files to keep or share. The generator file holds only the face-making network and its "
               "settings (safetensors: it cannot run code when opened).")
    c1, c2, c3, c4 = st.columns(4)
    with c1:
        st.download_button("Faces (PNG)", faces_png, file_name=f"{run.name}-faces-seed{seed}.png",
                           mime="image/png", icon=":material/download:", on_click="ignore", key="dl_faces")
    with c2:
        st.download_button("Morphs (PNG)", walk_png, file_name=f"{run.name}-morph-{mode}.png", mime="image/png",
                           icon=":material/download:", on_click="ignore", key="dl_walk")
    with c3:
        st.download_button("Training GIF", gif or b"", file_name=f"{run.name}-training.gif", mime="image/gif",
                           icon=":material/download:", on_click="ignore", disabled=gif is None, key="dl_gif")
    with c4:
        def generator_file(run_path=run.path, which=which) -> bytes:
            with tempfile.TemporaryDirectory() as tmp:
                out = export_generator(run_path, Path(tmp) / "G.safetensors", which)
                return out.read_bytes()

        st.download_button("Generator (.safetensors)", generator_file, file_name=f"{run.name}-{which}.safetensors",
                           mime="application/octet-stream", icon=":material/download:", on_click="ignore",
                           key="dl_generator")
