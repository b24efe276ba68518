"""LANTM models: config checks, presets (issue 13 readings), registry and Table 2 defaults (hparams/seed004),
write masks of the response phase, figure and tables, a tiny model that learns copy."""

from __future__ import annotations

import json
import time

import pytest
import torch

from memlab.core.config import from_dict
from memlab.core.errors import ConfigError
from memlab.models import MODELS, build_model
from memlab.experiments.hparams.seed004 import TABLE2, TRAIN_PROFILES
from memlab.models.lantm import LANTMConfig, LANTMModel
from memlab.tasks import make_task


@pytest.mark.parametrize(
    "bad,match",
    [
        ({"alpha": 0}, r"model\.alpha=0\.0 is out of range; allowed: > 0"),
        ({"alpha": -1.5}, r"model\.alpha=-1\.5 is out of range; allowed: > 0"),
        ({"group": "mobius"}, r"model\.group='mobius' is not allowed; choose one of translation, so2, scaling_rotation"),
        ({"group": "so2", "key_dim": 3}, r"acts on R\^2 only.*use key_dim=2 or group=translation"),
        ({"group": "scaling_rotation", "key_dim": 1}, r"acts on R\^2 only"),
        ({"read_heads": 0}, r"model\.read_heads=0 is out of range; allowed: >= 1"),
        ({"write_heads": 0}, r"model\.write_heads=0 is out of range; allowed: >= 1"),
        ({"weighting": "cosine"}, r"choose one of invnorm, softmax"),
        ({"wings": 2}, r"unknown key model\.wings"),
        ({"preset": "paper"}, r"model\.preset='paper' is not allowed; choose one of paper-text, paper-code, reproduce"),
        ({"kernel": "fast"}, r"model\.kernel='fast' is not allowed; choose one of fused, reference"),
        ({"impl": "jit"}, r"model\.impl='jit' is not allowed; choose one of fast, ref"),
        ({"step_delta": 0}, r"model\.step_delta=0\.0 is out of range"),
        ({"write_gate_bias": float("nan")}, r"model\.write_gate_bias=nan"),
        ({"read_key_gate_bias": float("-inf")}, r"model\.read_key_gate_bias=-inf"),
        ({"read_step_gate_bias": float("nan")}, r"model\.read_step_gate_bias=nan"),
        ({"compile": True}, r"model\.compile=true applies to model\.kernel=reference"),
        ({"softmax_temperature": "cold"}, r"choose one of softplus, inverse"),
        ({"softmax_temperature": "inverse", "temp_min": 0}, r"needs model\.temp_min > 0"),
        ({"init_magnitude": -1}, r"model\.init_magnitude=-1\.0 is out of range; allowed: >= 0 and <= 100"),
        ({"init_magnitude": float("inf")}, r"model\.init_magnitude=inf"),
        ({"init_step": "unit"}, r"model\.init_step='unit' is not allowed; choose one of free, normalised, fixed"),
        ({"init_step_norm": 0}, r"model\.init_step_norm=0\.0 is out of range"),
        ({"write_gates": "open"}, r"model\.write_gates='open' is not allowed; choose one of learned, shut"),
        ({"init_step_norm": float("nan")}, r"model\.init_step_norm=nan"),
        ({"init_step_norm": 0.5, "group": "so2"}, r"model\.init_step_norm=0\.5 needs model\.group=translation"),
    ],
)
def test_bad_settings_give_one_line_config_errors(bad, match):
    with pytest.raises(ConfigError, match=match) as info:
        from_dict(LANTMConfig, bad, prefix="model.")
    assert "\n" not in str(info.value)


def test_translation_group_takes_any_key_dim():
    cfg = from_dict(LANTMConfig, {"key_dim": 3, "alpha": 0.5})
    task = make_task("copy", {"vocab": 5})
    from memlab.models.lantm import build

    model = build(cfg, task.spec)
    batch = task.sample(2, 3, torch.Generator().manual_seed(0))
    assert model(batch).shape == (batch.inputs.shape[0], 2, task.spec.n_tokens)


@pytest.mark.parametrize("name,weighting", [("lantm-invnorm", "invnorm"), ("lantm-softmax", "softmax")])
@pytest.mark.parametrize("task_name", ["copy", "reverse", "bigramFlip", "double", "addition"])
def test_registry_entries_use_table2_sizes(name, weighting, task_name):
    entry = MODELS[name]
    row = TABLE2[name][task_name]
    task = make_task(task_name)
    model = build_model(name, task.spec, task_name)
    assert isinstance(model, LANTMModel)
    core = model.core
    assert core.spec.hidden == row["hidden"] and model.encoder.out_size == row["embed"] and core.spec.mem_width == 20
    assert core.spec.weighting == weighting and core.spec.group.name == "translation" and core.spec.key_dim == 2
    assert entry.model_defaults(task_name)["preset"] == "reproduce"
    assert entry.train_defaults(task_name) == TRAIN_PROFILES["paper-code"]  # the released code's optimiser
    # every parameter receives a gradient
    batch = task.sample(2, 4, torch.Generator().manual_seed(0))
    task.loss(model(batch), batch).backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())


def test_table2_is_the_seeds_table():
    from memlab.experiments.hparams import paper_defaults

    assert TABLE2["lantm-invnorm"]["bigramFlip"] == dict(hidden=100, embed=7, mem_width=20, lr=0.02, params=70155)
    assert TABLE2["lantm-softmax"]["double"] == dict(hidden=50, embed=14, mem_width=20, lr=0.02, params=20291)
    assert paper_defaults("lstm", "addition") == {"model": {"hidden": 256, "layers": 4, "embed": 64},
                                                  "train": {"lr": 0.0002, "lr_halve_after": 0, "eval_every": 200}}
    assert paper_defaults("lstm", "copy")["model"]["embed"] == 7
    text = paper_defaults("lantm-invnorm", "addition", preset="paper-text")
    assert text["model"]["preset"] == "paper-text" and text["train"]["lr"] == pytest.approx(0.001)
    assert text["train"]["momentum"] == 0.95 and text["train"]["lr_halve_after"] == 100
    assert paper_defaults("lantm-softmax", "copy", preset="paper-code")["train"] == TRAIN_PROFILES["paper-code"]
    with pytest.raises(ConfigError, match="model.preset='x' is not allowed"):
        paper_defaults("lantm-invnorm", "copy", preset="x")


def test_presets_resolve_and_explicit_keys_win():
    from memlab.experiments.hparams.seed004 import LANTM_PRESETS
    from memlab.models.lantm import PRESETS

    assert set(PRESETS) == set(LANTM_PRESETS)
    legacy = from_dict(LANTMConfig, {"impl": "ref", "write_gate_bias": -6.0})  # a config saved before presets
    assert legacy.preset == "paper-text" and legacy.kernel == "reference" and legacy.impl is None
    assert not legacy.read_to_output and not legacy.read_first and legacy.write_while_answering
    code = from_dict(LANTMConfig, {"preset": "paper-code"})
    assert (code.read_to_output, code.read_first, code.write_while_answering, code.step_delta, code.interpolate_steps,
            code.write_gate_bias, code.init_slot) == (True, True, False, 1.0, False, -10.0, True)
    mixed = from_dict(LANTMConfig, {"preset": "paper-code", "step_delta": "1e-4", "interpolate_steps": "true"})
    assert mixed.step_delta == 1e-4 and mixed.interpolate_steps and mixed.read_first
    assert {k: getattr(mixed, k) for k in PRESETS["reproduce"]} == PRESETS["reproduce"]
    # a resolved config round-trips: every value is written out
    from memlab.core.config import to_dict

    again = from_dict(LANTMConfig, to_dict(code))
    assert to_dict(again) == to_dict(code) and all(v is not None for k, v in to_dict(code).items() if k != "impl")


def test_new_runs_resolve_to_reproduce_and_the_released_optimiser():
    from memlab.training.run import build_from_config, resolve_config
    from memlab.training.trainer import Trainer

    cfg = resolve_config("lantm-invnorm", "copy", {"task": {"vocab": 6}})
    assert cfg["model_cfg"]["preset"] == "reproduce" and cfg["model_cfg"]["read_first"] is True
    assert cfg["train"]["momentum"] == 0.0 and cfg["train"]["rms_alpha"] == 0.99 and cfg["train"]["clip_norm"] == 32
    assert cfg["train"]["lr"] == 0.01 and cfg["train"]["lr_halve_after"] == 0
    model, task, train_cfg = build_from_config(cfg)
    group = Trainer(model, task, train_cfg, progress=False).opt.param_groups[0]
    assert (group["lr"], group["momentum"], group["alpha"]) == (0.01, 0.0, 0.99)
    text = resolve_config("lantm-invnorm", "copy", {"model": {"preset": "paper-text"}})
    assert text["model_cfg"]["write_gate_bias"] == -6.0 and text["model_cfg"]["init_slot"] is False


def test_no_writes_in_the_response_phase():
    task = make_task("copy", {"vocab": 6})
    batch = task.sample_range(4, 2, 5, torch.Generator().manual_seed(0))
    model = build_model("lantm-invnorm", task.spec, "copy")
    T = batch.inputs.shape[0]
    mask = model.write_mask(batch, T)
    for b in range(4):
        n = int(batch.n_input[b])
        assert mask[:n, b].eq(1).all() and mask[n:, b].eq(0).all()  # written up to the last input step
    with torch.no_grad():
        _, tr, final = model.trace(batch)
    S = final.strengths[:, 1:]  # after the initial slot: one slot per step
    assert (S.t()[mask == 0] == 0).all() and (S.t()[mask == 1] > 0).all()
    text = build_model("lantm-invnorm", task.spec, "copy", {"preset": "paper-text"})
    assert text.write_mask(batch, T) is None


def test_build_model_rejects_bad_overrides_in_one_line():
    task = make_task("copy")
    with pytest.raises(ConfigError, match="model.alpha"):
        build_model("lantm-invnorm", task.spec, "copy", {"alpha": -2})


def test_write_gate_tweak_and_step_normalisation_are_on_by_default():
    task = make_task("copy", {"vocab": 6})
    model = build_model("lantm-invnorm", task.spec, "copy")
    sp = model.core.spec
    o = sp.offsets()["sig"][0]
    bq = model.core.access.bq.detach()
    assert bq[o] == -10 and bq[o + sp.heads] == -10  # write key gate g and write step gate h
    assert bq[o + 1] == 0 and bq[o + sp.heads + 1] == 0  # the read head's gates are not biased
    assert sp.normalise_steps
    batch = task.sample(3, 5, torch.Generator().manual_seed(1))
    with torch.no_grad():
        _, tr, _ = model.trace(batch)
    assert (tr.gates[:, :, 0] < 0.05).all()  # the write head starts out writing along a line


def _trace_api():
    """trace_record (memlab.commands.plot) and render_tables (memlab.experiments.lantm_tables)."""
    from memlab.commands.plot import trace_record
    from memlab.experiments.lantm_tables import render_tables

    return trace_record, render_tables


def test_trace_plot_and_tables(tmp_path):
    from memlab.plots.lantm import key_space_figure

    trace_record, render_tables = _trace_api()
    from memlab.training.run import train_run

    s = train_run("lantm-invnorm", "copy", {"task": {"vocab": 6, "train_min": 2, "train_max": 4, "test_min": 5,
                                                     "test_max": 8},
                                            "train": {"max_epochs": 1, "eval_every": 0}},
                  out=tmp_path, name="tiny", progress=False)
    rec = trace_record(s["run_dir"], 7, seed=3)
    assert len(rec["answer"]) == len(rec["prediction"]) == 8 and len(rec["reads"]) == 7
    assert set(rec["gates"]) == {"write key", "write step", "read key", "read step"}
    png = key_space_figure(json.loads(json.dumps(rec)), tmp_path / "fig.png")
    assert png.stat().st_size > 10_000
    records = [{"model": "lantm-invnorm", "task": "copy", "scale": 1, "seed": 0, "coarse": 0.5, "fine": 0.75,
                "lengths": [2, 64], "epochs": 3},
               {"model": "lantm-invnorm", "task": "copy", "scale": 4, "seed": 0, "coarse": 0.25, "fine": 0.875,
                "lengths": [193, 256]}]
    md = render_tables(records)
    assert "| copy | lantm-invnorm | unrecorded | 1 | 50.0% | 75.0% |  |  | 100% | 100% | 100% | 100% | 3 |" in md
    assert "| copy | 4x | unrecorded | 193–256 | 1 | 25.0% | 87.5% | 100% | 100% |" in md


def _line_record(task: str, n: int, off_from: int | None = None) -> dict:
    """A synthetic trace record: writes on the x axis (<s> at 0, input j at j + 1), reads exactly on
    each answer's target slot, pushed off the line from read ``off_from`` on."""
    from memlab.plots.lantm import target_write

    writes = [[float(j), 0.0] for j in range(n + 2)]
    reads = []
    for i in range(n):
        x = writes[target_write(task, i, n) or i + 1][0]
        reads.append([x, 0.0 if off_from is None or i < off_from else 0.8])
    T = 2 * n + 2
    return {"task": task, "length": n, "writes": writes, "strengths": [1.0] * (n + 2), "reads": reads, "eoi": n + 1,
            "gates": {k: [0.5] * T for k in ("write key", "write step", "read key", "read step")},
            "answer": list(range(n)) + [130], "prediction": list(range(n)) + [130]}


def test_divergence_index_finds_where_reads_leave_the_writes():
    from memlab.plots.lantm import divergence_index, target_write

    assert [target_write("bigramFlip", i, 6) for i in range(6)] == [2, 1, 4, 3, 6, 5]
    assert [target_write("reverse", i, 4) for i in range(4)] == [4, 3, 2, 1]
    assert divergence_index(_line_record("bigramFlip", 12)) is None
    assert divergence_index(_line_record("bigramFlip", 12, off_from=7)) == 7
    assert divergence_index(_line_record("copy", 10, off_from=3)) == 3
    assert divergence_index(_line_record("addition", 10, off_from=3)) is None  # no one-slot target


def test_addition_problem_text_marks_wrong_digits():
    from memlab.plots.lantm import addition_problem

    # k = 2, x = 57, y = 68: input 7 8 5 6 (interleaved, least significant first); 57 + 68 = 125 -> 5 2 1 <e>
    rec = {"inputs": [7, 8, 5, 6], "answer": [5, 2, 1, 12], "prediction": [5, 3, 1, 12]}
    assert addition_problem(rec) == ["  57", "+ 68", "= 125$", "→ 135$", "   *  "]
    del rec["inputs"]
    assert addition_problem(rec)[0] == "= 125$"


def test_fig9_and_fig11_render_from_records(tmp_path):
    from memlab.plots.lantm import addition_figure, bigramflip_figure, key_space_figure

    recs = [_line_record("bigramFlip", 16), _line_record("bigramFlip", 32, off_from=20)]
    assert bigramflip_figure(recs, tmp_path / "fig9.png").stat().st_size > 10_000
    add = dict(_line_record("addition", 8), inputs=[1, 2] * 8, answer=[3] * 9 + [12], prediction=[3] * 8 + [4, 12])
    assert addition_figure([add, add], tmp_path / "fig11.png").stat().st_size > 10_000
    assert key_space_figure(recs[1], tmp_path / "fig7.png").stat().st_size > 10_000


def _train_tiny_copy(seed: int, budget_s: float, preset: str = "reproduce") -> tuple[float, int]:
    """Train a 16-cell LANTM-InvNorm on copy 2–6 (vocabulary 8) with the preset's model settings and
    training profile (hparams/seed004); returns the worst coarse score over test lengths 2–6."""
    from memlab.experiments.hparams.seed004 import paper_defaults

    torch.manual_seed(seed)
    task = make_task("copy", {"vocab": 8, "train_min": 2, "train_max": 6, "test_min": 2, "test_max": 6})
    # 16 cells: too few for the LSTM to memorise 6 symbols itself, so it has to learn to use the memory
    model = build_model("lantm-invnorm", task.spec, "copy", {"hidden": 16, "preset": preset})
    tr = paper_defaults("lantm-invnorm", "copy", preset=preset)["train"]
    opt = torch.optim.RMSprop(model.parameters(), lr=tr["lr"], alpha=tr["rms_alpha"], momentum=tr["momentum"], eps=1e-6)
    gen = torch.Generator().manual_seed(seed)
    test = [task.sample(64, k, torch.Generator().manual_seed(100 + k)) for k in range(2, 7)]
    t0, coarse, step = time.process_time(), 0.0, 0
    while time.process_time() - t0 < budget_s:
        for _ in range(50):
            batch = task.sample_range(32, 2, 6, gen)
            loss = task.loss(model(batch), batch)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), tr["clip_norm"])
            opt.step()
            step += 1
        with torch.no_grad():
            coarse = min(task.score(model(b), b).coarse for b in test)
        if coarse == 1.0:
            break
    return coarse, step


@pytest.mark.slow
def test_tiny_lantm_learns_copy():
    """The default reading (preset reproduce, the released code's optimiser) learns copy."""
    coarse, steps = _train_tiny_copy(seed=0, budget_s=120)
    assert coarse == 1.0, f"copy 2-6 coarse {coarse} after {steps} steps"


def test_preset_picks_its_training_reading_when_a_run_is_resolved():
    """``model.preset`` in a run's overrides also restores that reading's training settings."""
    from memlab.experiments.hparams.seed004 import TRAIN_PROFILES
    from memlab.training.config import resolve_run_config

    assert set(TRAIN_PROFILES["paper-text"]) | {"lr"} == set(TRAIN_PROFILES["paper-code"])  # no key inherited
    default = resolve_run_config("lantm-invnorm", "bigramFlip")
    assert default.model_cfg["preset"] == "reproduce" and default.model_cfg["read_to_output"] is True
    assert (default.train.lr, default.train.momentum, default.train.rms_alpha) == (0.01, 0.0, 0.99)
    assert default.train.clip_norm == 32.0 and not default.train.plateau_halving
    text = resolve_run_config("lantm-invnorm", "bigramFlip", {"model": {"preset": "paper-text"}})
    assert text.model_cfg["preset"] == "paper-text" and text.model_cfg["read_to_output"] is False
    assert text.train.lr == pytest.approx(0.002) and (text.train.momentum, text.train.rms_alpha) == (0.95, 0.95)
    assert text.train.clip_norm == 1.0 and text.train.plateau_halving and text.train.lr_halve_after == 100
    code = resolve_run_config("lantm-softmax", "copy", {"model": {"preset": "paper-code"}})
    assert code.model_cfg["step_delta"] == 1.0 and code.train.lr == 0.01 and code.train.momentum == 0.0
    mine = resolve_run_config("lantm-invnorm", "copy", {"model": {"preset": "paper-text"}, "train": {"lr": 0.001}})
    assert mine.train.lr == 0.001 and mine.train.momentum == 0.95  # explicit train.* keys win
    with pytest.raises(ConfigError, match="model.preset='nope' is not allowed"):
        resolve_run_config("lantm-invnorm", "copy", {"model": {"preset": "nope"}})
    with pytest.raises(ConfigError):
        resolve_run_config("lstm", "copy", {"model": {"preset": "paper-text"}})


def test_released_preset_is_paper_code_with_the_released_run_options():
    """``model.preset=released``: paper-code's model and optimiser plus the released largetrain run
    files' options per (model, task): rate, its decay after decay_delay, one length per batch,
    init_magnitude."""
    from memlab.experiments.hparams.seed004 import RELEASED, TASKS
    from memlab.models.lantm import PRESETS
    from memlab.training.config import resolve_run_config

    assert PRESETS["released"] == {**PRESETS["paper-code"], "init_slot_strength": "learned"}
    assert all(PRESETS[p]["init_slot_strength"] == "one" for p in ("paper-text", "paper-code", "reproduce"))
    assert all(set(RELEASED[m]) == set(TASKS) for m in RELEASED)
    from memlab.experiments.hparams.seed004 import TRAIN_PROFILES
    assert set(TRAIN_PROFILES["released"]) == set(TRAIN_PROFILES["paper-code"])  # no key inherited across readings
    rev = resolve_run_config("lantm-invnorm", "reverse", {"model": {"preset": "released"}})
    assert (rev.model_cfg["init_magnitude"], rev.model_cfg["step_delta"], rev.model_cfg["interpolate_steps"]) == (1.0, 1.0, False)
    t = rev.train
    assert (t.lr, t.lr_decay, t.lr_decay_every, t.lr_decay_after, t.batch_lengths) == (0.01, 0.99, 2, 600, "batch")
    assert (t.momentum, t.rms_alpha, t.rms_eps, t.clip_norm, t.plateau_halving) == (0.0, 0.99, 1e-8, 32.0, False)
    add = resolve_run_config("lantm-softmax", "addition", {"model": {"preset": "released"}})
    assert add.train.lr == 0.02 and add.train.lr_decay_after == 300 and add.model_cfg["init_magnitude"] == 0.0
    bf = resolve_run_config("lantm-invnorm", "bigramFlip", {"model": {"preset": "released"}, "train": {"lr_decay_after": 5}})
    assert bf.train.lr_decay_after == 5 and bf.model_cfg["init_magnitude"] == 0.0  # explicit keys win
    other = resolve_run_config("lantm-invnorm", "parity", {"model": {"preset": "released"}})
    assert other.train.lr == 0.01 and other.train.lr_decay_after == 300  # outside the released runs
    assert resolve_run_config("lantm-invnorm", "copy").train.batch_lengths == "sequence"  # the default reading


def test_lstm_baseline_readings_paper_and_released():
    """The LSTM baseline: Table 2's 4 x 256 at lr 0.0002 (``paper``, default) or the released run
    files' 2 x 256, embedding 128, lr 0.002 with the released optimiser and decay (``released``)."""
    from memlab.training.config import resolve_run_config

    paper = resolve_run_config("lstm", "copy")
    assert (paper.model_cfg["layers"], paper.model_cfg["hidden"], paper.train.lr) == (4, 256, 0.0002)
    assert resolve_run_config("lstm", "copy", {"model": {"preset": "paper"}}).to_json() == paper.to_json()
    rel = resolve_run_config("lstm", "addition", {"model": {"preset": "released"}})
    assert (rel.model_cfg["layers"], rel.model_cfg["hidden"], rel.model_cfg["embed"]) == (2, 256, 128)
    t = rel.train
    assert (t.lr, t.lr_decay, t.lr_decay_after, t.batch_lengths, t.momentum, t.clip_norm) == (0.002, 0.99, 700, "batch", 0.0, 32.0)
    assert "preset" not in rel.model_cfg
    with pytest.raises(ConfigError, match="not allowed for the LSTM baseline; choose one of paper, released"):
        resolve_run_config("lstm", "copy", {"model": {"preset": "reproduce"}})


def test_init_magnitude_is_the_released_uniform_init_with_forget_bias_2():
    """``model.init_magnitude=a``: every parameter in [−a, a] and spread over it, the LSTM's
    forget-gate rows of the bias at 2 (the released code's two biases of 1); 0 changes nothing."""
    task = make_task("copy", {"vocab": 6})
    torch.manual_seed(4)
    plain = build_model("lantm-invnorm", task.spec, "copy")
    torch.manual_seed(4)
    zero = build_model("lantm-invnorm", task.spec, "copy", {"init_magnitude": 0})
    assert all(torch.equal(a, b) for a, b in zip(plain.parameters(), zero.parameters()))
    torch.manual_seed(4)
    model = build_model("lantm-invnorm", task.spec, "copy", {"init_magnitude": 1})
    H = model.core.controller.cfg.hidden_size
    b = model.core.controller.b.detach()
    assert torch.equal(b[H : 2 * H], torch.full((H,), 2.0))
    rest = torch.cat([b[:H], b[2 * H :]] + [p.detach().flatten() for n, p in model.named_parameters()
                                            if n != "core.controller.b"])
    assert rest.abs().max() <= 1.0 and rest.abs().max() > 0.99 and abs(float(rest.mean())) < 0.05
    assert float(rest.std()) == pytest.approx(1 / 3**0.5, rel=0.05)  # U(−1, 1)
    torch.manual_seed(4)
    half = build_model("lantm-invnorm", task.spec, "copy", {"init_magnitude": 0.5})
    assert max(float(p.detach().abs().max()) for n, p in half.named_parameters() if n != "core.controller.b") <= 0.5


def test_a_run_saved_before_a_new_model_setting_still_resumes(tmp_path):
    """A config.json written before a model setting existed (here: without ``init_magnitude``)
    compares with that setting's default on resume rather than as a different config."""
    from memlab.training.run import train_run

    over = {"model": {"hidden": 8, "embed": 4, "mem_width": 4}, "task": {"vocab": 4, "train_max": 3, "test_min": 4,
            "test_max": 5}, "train": {"max_epochs": 1, "batches_per_epoch": 1, "batch_size": 2, "eval_every": 0}}
    train_run("lantm-invnorm", "copy", over, seed=0, out=tmp_path, name="r", progress=False)
    path = tmp_path / "r" / "config.json"
    cfg = json.loads(path.read_text())
    del cfg["model_cfg"]["init_magnitude"]
    path.write_text(json.dumps(cfg))
    more = {**over, "train": {**over["train"], "max_epochs": 2}}
    summary = train_run("lantm-invnorm", "copy", more, seed=0, out=tmp_path, name="r", resume=True, progress=False)
    assert summary["epochs"] == 2
    with pytest.raises(ConfigError, match=r"differs from the one requested \(model\.init_magnitude: saved 0\.0, "
                                          r"requested 1\.0\)"):
        train_run("lantm-invnorm", "copy", {**more, "model": {**over["model"], "init_magnitude": 1}}, seed=0,
                  out=tmp_path, name="r", resume=True, progress=False)


def test_reproduce_text_optimiser_preset_is_the_stop29_reverse_reading():
    """``model.preset=reproduce-text-optimiser`` resolves to exactly what stop 29 ran as explicit
    settings on ``reproduce`` (train.momentum=0.95 rms_alpha=0.95 clip_norm=1.0 lr=0.002 on reverse):
    the same model and the same optimiser, so its runs train identically; the rate follows Table 2."""
    from memlab.training.config import resolve_run_config

    explicit = {"momentum": 0.95, "rms_alpha": 0.95, "clip_norm": 1.0, "lr": 0.002}
    for model in ("lantm-invnorm", "lantm-softmax"):
        named = resolve_run_config(model, "reverse", {"model": {"preset": "reproduce-text-optimiser"}})
        spelt = resolve_run_config(model, "reverse", {"train": explicit})
        assert named.model_cfg == {**spelt.model_cfg, "preset": "reproduce-text-optimiser"}
        assert named.train == spelt.train
        assert not named.train.plateau_halving and named.train.lr_halve_after == 0
    addition = resolve_run_config("lantm-invnorm", "addition", {"model": {"preset": "reproduce-text-optimiser"}})
    assert addition.train.lr == pytest.approx(0.001)  # Table 2's 0.01 × 0.1, as stop 29 ran addition
    assert addition.model_cfg["read_first"] and addition.model_cfg["step_delta"] == 1e-4


def test_init_step_norm_scales_the_start_step_and_nothing_else():
    """``model.init_step_norm=c``: v_0 starts as c times the default start step (same direction, same
    draws from the RNG, so every other weight is as at c = 1); 1 is the model as before the setting."""
    from memlab.models.lantm import build

    task = make_task("addition", {})
    models = {}
    for c in (1.0, 0.5):
        torch.manual_seed(3)
        models[c] = build(from_dict(LANTMConfig, {"preset": "reproduce", "init_step_norm": c}), task.spec)
    one, half = (dict(models[c].named_parameters()) for c in (1.0, 0.5))
    v0 = next(k for k in one if k.endswith("access.v0"))
    assert torch.allclose(half[v0], 0.5 * one[v0]) and torch.allclose(one[v0].norm(dim=-1), torch.ones(2))
    assert all(torch.equal(one[k], half[k]) for k in one if k != v0)


def test_shut_write_gates_write_a_straight_line_with_no_gradient_through_them():
    """``model.write_gates=shut``: the write heads' key and step gates are σ(−30) at every step, so a
    write head moves by its start step v_0 (written slots evenly spaced on a line, whatever the
    trained weights say); both kernels agree, and the gate columns of Wq and bq get no gradient.
    ``learned`` (default) hands the parameters through unchanged."""
    from memlab.models.lantm import build
    from memlab.memory.lie_access import write_gate_columns

    task = make_task("addition", {})
    torch.manual_seed(0)
    model = build(from_dict(LANTMConfig, {"preset": "reproduce", "write_gates": "shut"}), task.spec).double()
    access = model.core.access
    with torch.no_grad():  # weights that would open the gates wide if they were used
        access.bq[write_gate_columns(access.spec)] = 10.0
        access.Wq[:, write_gate_columns(access.spec)] = 5.0
    batch = task.sample(4, 5, torch.Generator().manual_seed(1))
    _, trace, final = model.trace(batch)
    W = access.spec.write_heads
    assert trace.gates[:, :, :W].max() < 1e-12
    a = final.addresses[:, 1:]  # (B, N, n) after the initial slot
    strides = a.diff(dim=1)  # every step the same vector
    assert torch.allclose(strides, access.v0[0].expand_as(strides), atol=1e-9)
    _, trace_ref, final_ref = model.trace(batch, impl="reference")
    assert torch.allclose(final.addresses, final_ref.addresses, atol=1e-9)
    assert torch.allclose(trace.keys, trace_ref.keys, atol=1e-9)
    model(batch).square().sum().backward()
    cols = write_gate_columns(access.spec)
    assert access.Wq.grad[:, cols].abs().max() == 0 and access.bq.grad[cols].abs().max() == 0
    assert access.Wq.grad.abs().sum() > 0
    learned = build(from_dict(LANTMConfig, {"preset": "reproduce"}), task.spec).core.access
    Wq, bq = learned.instruction_layer()
    assert Wq is learned.Wq and bq is learned.bq


def test_fixed_start_step_is_not_trained_and_sets_the_shut_write_lines_stride():
    """``model.init_step=fixed``: v_0 starts as with ``free`` (norm ``init_step_norm``) but no
    gradient reaches it, so an optimiser step leaves it unchanged while it moves every other
    weight; with the write gates shut the written slots lie ``init_step_norm`` apart, on both
    kernels. ``free`` with the same seed gets a gradient on v_0 (the check can fail)."""
    from memlab.models.lantm import build

    task = make_task("addition", {})
    batch = task.sample(4, 5, torch.Generator().manual_seed(1))
    models = {}
    for init_step in ("fixed", "free"):
        torch.manual_seed(0)
        cfg = {"preset": "reproduce", "write_gates": "shut", "init_step": init_step, "init_step_norm": 0.5}
        models[init_step] = build(from_dict(LANTMConfig, cfg), task.spec).double()
    fixed, free = models["fixed"], models["free"]
    assert torch.equal(fixed.core.access.v0, free.core.access.v0)
    before = {k: p.detach().clone() for k, p in fixed.named_parameters()}
    opt = torch.optim.RMSprop(fixed.parameters(), lr=0.01)
    fixed(batch).square().sum().backward()
    free(batch).square().sum().backward()
    assert fixed.core.access.v0.grad is None and free.core.access.v0.grad.abs().sum() > 0
    opt.step()
    after = dict(fixed.named_parameters())
    v0 = next(k for k in after if k.endswith("access.v0"))
    assert torch.equal(after[v0], before[v0])
    assert any(not torch.equal(after[k], before[k]) for k in after if k != v0)
    for impl in ("fast", "reference"):
        _, _, final = fixed.trace(batch, impl=impl)
        strides = final.addresses[:, 1:].diff(dim=1).norm(dim=-1)  # after the initial slot
        assert torch.allclose(strides, torch.full_like(strides, 0.5), atol=1e-9), impl


@pytest.mark.parametrize("model", ["lantm-invnorm", "lantm-softmax"])
def test_per_task_preset_resolves_to_each_tasks_measured_reading(model):
    """``model.preset=reproduce-per-task`` trains each Table 2 task exactly as its measured reading
    (``PER_TASK_READINGS``: a preset plus model settings) spelt out, so its runs and those rows train
    alike; a task outside Table 2 trains as ``reproduce``."""
    from memlab.experiments.hparams.seed004 import PER_TASK_READINGS
    from memlab.training.config import resolve_run_config

    for task, (base, extra) in [*PER_TASK_READINGS.items(), ("parity", ("reproduce", {}))]:
        named = resolve_run_config(model, task, {"model": {"preset": "reproduce-per-task"}})
        spelt = resolve_run_config(model, task, {"model": {"preset": base, **extra}})
        assert named.model_cfg == {**spelt.model_cfg, "preset": "reproduce-per-task"}, task
        assert named.train == spelt.train, task
    assert resolve_run_config(model, "double", {"model": {"preset": "reproduce-per-task"}}).model_cfg["init_step"] == "normalised"
    explicit = resolve_run_config(model, "double", {"model": {"preset": "reproduce-per-task", "init_step": "free"}})
    assert explicit.model_cfg["init_step"] == "free"  # an explicit key still wins


def test_read_gate_preset_is_reproduce_with_the_read_key_gate_started_shut(tmp_path):
    """``model.preset=reproduce-read-gate`` resolves to ``reproduce`` with ``read_key_gate_bias=-4``
    (stop 32's runs, spelt out): the same settings, the same initial weights and the same training
    reading. An explicit value wins; a config saved before the setting existed (no key) resumes as
    its preset's 0, and the key gate's bias starts at the preset's value."""
    from memlab.memory.lie_access import read_key_gate_columns
    from memlab.training.config import resolve_run_config
    from memlab.training.run import train_run

    named = resolve_run_config("lantm-invnorm", "addition", {"model": {"preset": "reproduce-read-gate"}})
    spelt = resolve_run_config("lantm-invnorm", "addition", {"model": {"preset": "reproduce", "read_key_gate_bias": -4}})
    assert named.model_cfg == {**spelt.model_cfg, "preset": "reproduce-read-gate"} and named.train == spelt.train
    assert named.model_cfg["read_key_gate_bias"] == -4.0
    for preset in ("paper-text", "paper-code", "reproduce", "released", "reproduce-per-task"):
        assert resolve_run_config("lantm-invnorm", "copy", {"model": {"preset": preset}}).model_cfg["read_key_gate_bias"] == 0.0
    mine = resolve_run_config("lantm-invnorm", "copy", {"model": {"preset": "reproduce-read-gate", "read_key_gate_bias": -1}})
    assert mine.model_cfg["read_key_gate_bias"] == -1.0
    task = make_task("addition")
    models = {}
    for name, over in (("named", {"preset": "reproduce-read-gate"}), ("spelt", {"preset": "reproduce", "read_key_gate_bias": -4})):
        torch.manual_seed(3)
        models[name] = build_model("lantm-invnorm", task.spec, "addition", over)
    a, b = (m.state_dict() for m in (models["named"], models["spelt"]))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    access = models["named"].core.access
    cols = read_key_gate_columns(access.spec)
    assert torch.allclose(access.bq.detach()[cols], torch.full((len(cols),), -4.0))
    torch.manual_seed(3)
    plain = build_model("lantm-invnorm", task.spec, "addition", {"preset": "reproduce"}).core.access
    assert torch.allclose(plain.bq.detach()[cols], torch.zeros(len(cols)))
    # a run saved before read_key_gate_bias existed resumes as its preset's neutral 0
    over = {"model": {"preset": "reproduce", "hidden": 8, "embed": 4, "mem_width": 4},
            "task": {"vocab": 4, "train_max": 3, "test_min": 4, "test_max": 5},
            "train": {"max_epochs": 1, "batches_per_epoch": 1, "batch_size": 2, "eval_every": 0}}
    train_run("lantm-invnorm", "copy", over, seed=0, out=tmp_path, name="r", progress=False)
    path = tmp_path / "r" / "config.json"
    cfg = json.loads(path.read_text())
    assert cfg["model_cfg"].pop("read_key_gate_bias") == 0.0
    path.write_text(json.dumps(cfg))
    summary = train_run("lantm-invnorm", "copy", {**over, "train": {**over["train"], "max_epochs": 2}}, seed=0,
                        out=tmp_path, name="r", resume=True, progress=False)
    assert summary["epochs"] == 2
