import dataclasses
from dataclasses import dataclass

import numpy as np
import pytest

from regimescope.errors import BadInput
from regimescope.report.collect import verdicts_by_scale
from regimescope.studies import Effect, Study, run_study
from regimescope.studies.base import per_model_lines
from regimescope.studies.stats import bootstrap_mean
from regimescope.studies.verdict import Verdict, combine, equivalence_rule, interval_rule


@pytest.mark.parametrize(
    ("ci", "expected"),
    [
        ((0.10, 0.30), "supports"),
        ((-0.30, -0.10), "contradicts"),
        ((-0.05, 0.20), "inconclusive"),
        ((0.02, 0.04), "inconclusive"),  # positive but not above the support threshold
    ],
)
def test_interval_rule_reaches_every_verdict(ci, expected):
    effect = Effect("gain", sum(ci) / 2, ci)
    assert interval_rule(effect, support_above=0.05, contradict_below=0.0).verdict == expected


@pytest.mark.parametrize(
    ("ci", "expected"),
    [
        ((-0.02, 0.03), "supports"),
        ((0.06, 0.20), "contradicts"),
        ((-0.20, -0.08), "contradicts"),
        ((0.00, 0.10), "inconclusive"),
    ],
)
def test_equivalence_rule_reaches_every_verdict(ci, expected):
    assert equivalence_rule(Effect("gap", sum(ci) / 2, ci), margin=0.05).verdict == expected


def test_combine():
    s, c, i = (
        interval_rule(Effect("x", 0, ci), 0.05, 0.0)
        for ci in [(0.1, 0.2), (-0.2, -0.1), (-0.1, 0.1)]
    )
    assert combine({"a": s, "b": s}).verdict == "supports"
    assert combine({"a": s, "b": i}).verdict == "inconclusive"
    assert combine({"a": c}).verdict == "contradicts"  # one part: no correction needed
    assert combine({"a": s, "b": i, "c": c}).verdict == "inconclusive"  # 95% only, of 3 parts


def test_bootstrap_matches_known_spread():
    rng = np.random.default_rng(0)
    values = rng.normal(0.0, 1.0, size=(1, 400))  # one seed: ordinary bootstrap of the mean
    found = bootstrap_mean(values, resamples=2000)
    est, (lo, hi) = found.estimate, found.interval()
    se = values.std() / np.sqrt(400)
    assert hi - lo == pytest.approx(2 * 1.96 * se, rel=0.15)
    assert lo < est < hi


def test_bootstrap_widens_with_seed_variation():
    rng = np.random.default_rng(1)
    noise = rng.normal(0, 0.1, size=(4, 100))
    same = noise + 0.5
    shifted = noise + np.array([[0.2], [0.4], [0.6], [0.8]])  # seeds disagree
    lo1, hi1 = bootstrap_mean(same).interval()
    lo2, hi2 = bootstrap_mean(shifted).interval()
    assert (hi2 - lo2) > 5 * (hi1 - lo1)


@dataclass(frozen=True)
class ToyConfig:
    seeds: tuple[int, ...] = (0,)  # training seeds
    effect: float = 0.2  # the toy's measured effect


def toy_run(cfg, ctx):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    calls.append(cfg)
    ctx.progress("toy step")
    ctx.save_table("numbers", pd.DataFrame({"seed": list(cfg.seeds), "value": cfg.effect}))
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, cfg.effect])
    ctx.save_figure("line", fig)
    effect = Effect("toy gain", cfg.effect, (cfg.effect - 0.1, cfg.effect + 0.1))
    decision = interval_rule(effect, 0.05, 0.0)
    return Verdict(
        study="toy",
        claim="c",
        verdict=decision.verdict,
        reason=decision.reason,
        rule="interval above 0.05",
        effects=[effect],
        scale=ctx.scale,
        seeds=list(cfg.seeds),
    )


calls: list = []
TOY = Study(
    "toy", "0", "a toy claim", "nobody 2026", "", "a toy setup.", {"quick": ToyConfig}, toy_run
)


def test_run_study_writes_folder_and_reuses_it(store):
    calls.clear()
    verdict, run = run_study(TOY, "quick", seeds=3)
    assert verdict.verdict == "supports" and verdict.seeds == [0, 1, 2]
    assert (run.path / "tables" / "numbers.csv").is_file()
    assert (run.path / "figures" / "line.png").read_bytes()[:4] == b"\x89PNG"
    again, run2 = run_study(TOY, "quick", seeds=3)
    assert run2.path == run.path and len(calls) == 1  # reused, not rerun
    assert again == verdict


def test_run_study_bad_scale_and_seeds(store):
    with pytest.raises(BadInput, match="unknown scale 'huge'; choose from: quick"):
        run_study(TOY, "huge")
    with pytest.raises(BadInput, match="seeds must be a positive integer"):
        run_study(TOY, "quick", seeds=0)


def test_report_renders_from_store_only(store, tmp_path):
    import json

    from regimescope.cli import main

    run_study(TOY, "quick", seeds=2)
    out = tmp_path / "out"
    assert main(["report", str(store), "--out", str(out)]) == 0
    html = (out / "report.html").read_text()
    assert html.count("class='verdict-row'") == 1
    assert "data:image/png;base64," in html and "toy gain: 0.200 [0.100, 0.300]" in html
    summary = json.loads((out / "verdicts.json").read_text())
    assert [(s["name"], s["verdict"], s["seeds"]) for s in summary] == [("toy", "supports", [0, 1])]


def test_report_shows_the_largest_scale_and_flags_a_verdict_that_changes(store, tmp_path):
    import json

    from regimescope.cli import main

    scales = {"quick": lambda: ToyConfig(effect=0.0), "full": lambda: ToyConfig(effect=0.2)}
    study = dataclasses.replace(TOY, scales=scales)
    run_study(study, "full")
    run_study(study, "quick")  # finished last, but the smaller design
    out = tmp_path / "out"
    assert main(["report", str(store), "--out", str(out)]) == 0
    [summary] = json.loads((out / "verdicts.json").read_text())
    assert (summary["scale"], summary["verdict"]) == ("full", "supports")
    assert [(o["scale"], o["verdict"]) for o in summary["other_scales"]] == [
        ("quick", "inconclusive")
    ]
    html = (out / "report.html").read_text()
    assert "The verdict depends on scale." in html and "The larger design" not in html
    assert main(["report", str(store), "--out", str(out), "--scale", "quick"]) == 0
    html = (out / "report.html").read_text()
    assert "The larger design speaks for the claim" in html
    assert verdicts_by_scale(store) == {"toy": {"full": "supports", "quick": "inconclusive"}}


def test_studies_lists_the_verdicts_the_store_holds(store, monkeypatch, capsys):
    from regimescope import studies
    from regimescope.cli import main

    monkeypatch.setattr(studies, "STUDIES", {"toy": TOY})
    run_study(TOY, "quick")
    assert main(["studies", "--store", str(store)]) == 0
    assert "quick: supports" in capsys.readouterr().out


def test_per_model_lines_report_each_model_once_as_its_samples_end():
    lines = []
    relay = per_model_lines(lines.append, ["base", "RL step 50", "RL step 100"], per_model=200)
    for done in (100, 199, 200, 250, 600, 600):
        relay(done)
    assert lines == [
        "sampled base (1/3 models)",
        "sampled RL step 50 (2/3 models)",
        "sampled RL step 100 (3/3 models)",
    ]


def test_report_bad_input(store, tmp_path, capsys):
    from regimescope.cli import main

    assert main(["report", str(tmp_path / "nope")]) == 2
    assert "no run store" in capsys.readouterr().err
    assert main(["report", str(tmp_path)]) == 2
    assert "holds no finished studies" in capsys.readouterr().err


def test_demo_runs_every_study_then_reports_and_resumes(store, tmp_path, monkeypatch, capsys):
    import json

    from regimescope import studies
    from regimescope.cli import main

    monkeypatch.setattr(studies, "STUDIES", {"toy": TOY})
    calls.clear()
    out = tmp_path / "out"
    assert main(["demo", "--out", str(out)]) == 0
    assert json.loads((out / "verdicts.json").read_text())[0]["verdict"] == "supports"
    assert main(["demo", "--out", str(out)]) == 0  # second run reuses the finished study
    assert len(calls) == 1 and "(reused)" in capsys.readouterr().out
    assert main(["demo", "--scale", "huge"]) == 2


def test_study_progress_is_logged_as_lines_when_stderr_is_not_a_terminal(
    store, monkeypatch, capsys
):
    import re

    from regimescope import studies
    from regimescope.cli import main

    monkeypatch.setattr(studies, "STUDIES", {"toy": TOY})
    assert main(["study", "toy"]) == 0
    captured = capsys.readouterr()
    assert re.search(r"^\d\d:\d\d:\d\d toy: toy step$", captured.err, re.M), captured.err
    assert "toy: supports" in captured.out


def test_study_folder_is_keyed_by_the_analysis_code(store):
    from regimescope.studies.base import code_fingerprint, study_folder

    run = study_folder(TOY, "quick")
    assert run.meta["key"] == {"code": code_fingerprint(TOY)} and len(code_fingerprint(TOY)) == 12


def test_only_the_full_config_is_labelled_a_full_design(store):
    scales = {"quick": lambda: ToyConfig(effect=0.3), "full": lambda: ToyConfig(effect=0.2)}
    study = dataclasses.replace(TOY, scales=scales)
    quick, _ = run_study(study, "quick")
    assert not quick.full_design and "effect = 0.3 (full design: 0.2)" in quick.notes
    full, _ = run_study(study, "full")
    assert full.full_design and full.notes == ""
    fewer, _ = run_study(study, "full", seeds=3)
    assert not fewer.full_design and "seeds = (0, 1, 2) (full design: (0,))" in fewer.notes
    changed, _ = run_study(study, "full", sets=["effect=0.25"])
    assert not changed.full_design and changed.effects[0].estimate == 0.25
    no_full, _ = run_study(TOY, "quick", sets=["effect=0.21"])  # not the folder above
    assert not no_full.full_design and "no full design" in no_full.notes


def test_set_names_a_bad_field_in_one_line(store):
    with pytest.raises(BadInput, match="unknown config field 'lr'; choose from: seeds, effect"):
        run_study(TOY, "quick", sets=["lr=1e-4"])
    with pytest.raises(BadInput, match="cannot read 'abc' as float"):
        run_study(TOY, "quick", sets=["effect=abc"])


def test_a_stale_verdict_is_marked_and_never_ranked_above_a_current_one(store, tmp_path):
    from regimescope.report.collect import collect_studies
    from regimescope.studies.base import code_fingerprint

    scales = {"quick": lambda: ToyConfig(effect=0.0), "full": lambda: ToyConfig(effect=0.2)}
    study = dataclasses.replace(TOY, scales=scales)
    run_study(study, "full")
    run_study(study, "quick")
    today = {"toy": code_fingerprint(study)}
    [fresh] = collect_studies(store, current=today)
    assert (fresh.study["scale"], fresh.stale) == ("full", False)
    full_folder = next(
        p for p in (store / "study").iterdir() if "full" in (p / "study.json").read_text()
    )
    study_json = full_folder / "study.json"
    study_json.write_text(study_json.read_text().replace(today["toy"], "0ld0ld0ld0ld"))
    [picked] = collect_studies(store, current=today)  # the full verdict's code changed since
    assert (picked.study["scale"], picked.stale) == ("quick", False)
    assert [(o["scale"], o["stale"]) for o in picked.others] == [("full", True)]
    assert verdicts_by_scale(store, today)["toy"]["full"] == "supports (stale)"
    [only_stale] = collect_studies(store, scale="full", current=today)
    assert only_stale.stale


def test_a_refused_set_leaves_no_folder_behind(store):
    from regimescope.errors import BadInput as Refused

    def check(cfg):
        if cfg.effect > 1:
            raise Refused("effect must be at most 1")

    study = dataclasses.replace(TOY, check=check)
    with pytest.raises(BadInput, match="effect must be at most 1"):
        run_study(study, "quick", sets=["effect=2"])
    assert not (store / "study").exists() or not any((store / "study").iterdir())


def test_study_set_on_the_command_line(store, monkeypatch, capsys):
    from regimescope import studies
    from regimescope.cli import main

    monkeypatch.setattr(studies, "STUDIES", {"toy": TOY})
    assert main(["study", "toy", "--set", "effect=0.02"]) == 0
    assert "toy: inconclusive" in capsys.readouterr().out  # 0.02 is below the toy's 0.05
    assert main(["study", "toy", "--set", "lr=1e-4"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "unknown config field 'lr'" in err and "Traceback" not in err
