"""The training charts draw what the log holds, and a selection on the t-SNE map names the faces shown."""

import pandas as pd

from dashboard import charts


def records(with_p: bool) -> list[dict]:
    rows = [{"kind": "step", "step": s, "loss_g": 1.0, "loss_d": 1.2, "d_real": 0.6, "d_fake": 0.4}
            for s in range(1, 11)]
    if with_p:
        for r in rows:
            r["augment_p"] = r["step"] / 100
    return rows


def test_the_loss_figure_gains_a_panel_for_the_augmentation_probability():
    plain = charts.loss_figure(charts.step_frame(records(False)))
    assert [a.text for a in plain.layout.annotations] == ["Losses", "D's verdict (1 real, 0 fake)"]
    augmented = charts.loss_figure(charts.step_frame(records(True)), epoch_steps=[5])
    assert [a.text for a in augmented.layout.annotations][-1] == "Augmentation p"
    (p,) = [t for t in augmented.data if t.name == "p"]
    assert list(p.y) == [s / 100 for s in range(1, 11)] and p.xaxis == "x3"


def test_a_selection_on_the_tsne_map_names_the_faces_behind_its_points():
    # Real faces 10..13 and generated faces 0..2, interleaved in the table as an evaluation writes it.
    table = pd.DataFrame({"kind": ["real", "generated", "real", "generated", "real", "generated", "real"],
                          "index": [10, 0, 11, 1, 12, 2, 13], "x": range(7), "y": range(7)})
    fig = charts.tsne_figure(table)
    assert [t.name for t in fig.data] == ["real faces", "generated faces"]
    # Plotly names a picked point by its trace and its place in that trace.
    picked = [{"curve_number": 1, "point_index": 2}, {"curve_number": 0, "point_index": 1},
              {"curve_number": 0, "point_number": 3}, {"curve_number": 1, "point_index": 9}]
    assert charts.tsne_selection(table, picked) == ([11, 13], [2])
    assert [int(fig.data[1].customdata[2][0]), int(fig.data[0].customdata[1][0])] == [2, 11]
    assert charts.tsne_selection(table, picked, limit=1) == ([], [2])
