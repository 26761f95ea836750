"""The training charts draw what the log holds."""

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
