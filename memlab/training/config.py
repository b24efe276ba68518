"""Typed training and run configs (no torch here: the CLI and ``memlab runs`` import this).

``TrainConfig`` holds the optimiser, schedule, clipping and stopping settings; its defaults
are the seed 004 protocol. ``RunConfig`` is the one resolved config of a training run: it is
built once (``resolve_run_config``), written to the run folder's ``config.json`` and read
back with ``read_run_config``; every loader goes through it, so a malformed or foreign file
is one ``ConfigError`` line, never a traceback.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from memlab.core.config import deep_merge, from_dict, to_dict
from memlab.core.errors import ConfigError, MemlabError, check_range


@dataclass
class TrainConfig:
    """Training settings; defaults are the seed 004 protocol (RMSProp, momentum 0.95).

    optimizer:        rmsprop (torch's RMSProp: ``rms_alpha`` smoothing, ``rms_eps``, ``momentum``),
                      adam (``adam_beta1``, ``adam_beta2``, ``adam_eps``) or sgd (``momentum``)
    lr_decay:         multiply the learning rate by this after every optimiser step (1.0 = off);
                      it never goes below ``min_lr``; with ``lr_decay_every`` = N > 0, once every N
                      epochs instead, and in either case only after ``lr_decay_after`` epochs (the
                      seed-004 released code: ×0.99 every 2 epochs after a task's ``decay_delay``)
    plateau_halving:  halve the rate when the best training error has not improved for
                      ``lr_patience`` epochs, once ``lr_halve_after`` epochs have passed (seed 004)
    clip_value:       clip every gradient element to [-clip_value, clip_value] (0 = off), before
    clip_norm:        rescaling the whole gradient to norm <= clip_norm (0 = off)
    max_restores:     restores of the last good checkpoint, with no good epoch in between, after
                      which the run stops as ``diverged``
    explosion_factor: step losses above this many times the running median of recent step
                      losses (and above the run's first loss) are a ``loss_explosion`` event (0 = off)
    batch_lengths:    ``sequence``: every training sequence draws its own length; ``batch``: one
                      length per batch, drawn uniformly (the released seed-004 code)
    select_scale:     the test every ``eval_every`` epochs (which picks ``best.pt`` and stops the
                      run at ``target_coarse``) is at the task's test lengths (0; for the seed-004
                      tasks those of Table 1, which are the 2x lengths) or at the lengths of scale
                      k >= 1 (seed 004 Table 4: 1 = the training lengths, k = (k-1)m+1..km)
    track_scales:     scales k (as ``select_scale``) also tested at every periodic test, without
                      choosing anything: the scores go to metrics.jsonl as ``test{k}x_fine`` and
                      ``test{k}x_coarse`` (how length generalisation moves during training), and
                      the weights of each scale's best periodic test are kept as ``best{k}x.pt``
    on_explosion:     ``log``: a loss explosion is an event only; ``restore``: the epoch counts as bad,
                      the rate halves and the last good checkpoint is restored (as after non-finite
                      steps; ``max_restores`` in a row end the run as ``diverged``)
    log:              ``tensorboard``: also write each epoch's scalars (loss, train and test
                      fine/coarse, lr, mean gradient norm) to ``<run>/tb/`` (needs the
                      ``tensorboard`` extra and a run folder); ``none``: metrics.jsonl only
    """

    lr: float = 0.02
    optimizer: Literal["rmsprop", "adam", "sgd"] = "rmsprop"
    momentum: float = 0.95
    rms_alpha: float = 0.95  # RMSProp squared-gradient smoothing
    rms_eps: float = 1e-6
    adam_beta1: float = 0.9
    adam_beta2: float = 0.999
    adam_eps: float = 1e-8
    lr_decay: float = 1.0
    lr_decay_every: int = 0  # 0: lr_decay after every optimiser step; N: once every N epochs
    lr_decay_after: int = 0  # epochs before lr_decay starts
    batch_size: int = 32
    batches_per_epoch: int = 10
    max_epochs: int = 1000
    max_time_s: float = 0.0  # 0 = no limit
    clip_norm: float = 1.0  # 0 = no clipping
    clip_value: float = 0.0  # 0 = no clipping
    plateau_halving: bool = True
    lr_halve_after: int = 100  # epochs before halving may start; 0 = never halve
    lr_patience: int = 30
    min_lr: float = 1e-7
    eval_every: int = 20  # epochs between test evaluations; 0 = never
    eval_batches: int = 10
    target_coarse: float = 1.0  # stop when the test coarse score reaches this; > 1 = never
    batch_lengths: Literal["sequence", "batch"] = "sequence"  # training lengths drawn per sequence or per batch
    select_scale: int = 0  # lengths of the periodic test (best.pt, target): 0 = the test range, k = scale k
    track_scales: tuple[int, ...] = ()  # scales also tested at every periodic test (metrics only)
    checkpoint_every: int = 10
    nonfinite_patience: int = 3
    max_restores: int = 10
    explosion_factor: float = 10.0
    on_explosion: Literal["log", "restore"] = "log"
    log: Literal["none", "tensorboard"] = "none"

    def validate(self) -> None:
        p = "train."
        check_range(p + "lr", self.lr, 0, lo_open=True)
        check_range(p + "min_lr", self.min_lr, 0)
        check_range(p + "momentum", self.momentum, 0, 1, hi_open=True)
        check_range(p + "rms_alpha", self.rms_alpha, 0, 1, lo_open=True, hi_open=True)
        check_range(p + "rms_eps", self.rms_eps, 0, lo_open=True)
        check_range(p + "adam_beta1", self.adam_beta1, 0, 1, hi_open=True)
        check_range(p + "adam_beta2", self.adam_beta2, 0, 1, hi_open=True)
        check_range(p + "adam_eps", self.adam_eps, 0, lo_open=True)
        check_range(p + "lr_decay", self.lr_decay, 0, 1, lo_open=True)
        for name in ("batch_size", "batches_per_epoch", "max_epochs", "eval_batches", "checkpoint_every",
                     "nonfinite_patience", "lr_patience", "max_restores"):
            check_range(p + name, getattr(self, name), 1)
        for name in ("max_time_s", "clip_norm", "clip_value", "lr_halve_after", "eval_every", "target_coarse",
                     "explosion_factor"):
            check_range(p + name, getattr(self, name), 0)
        check_range(p + "select_scale", self.select_scale, 0, 1000)  # the task bounds it by its lengths
        for k in self.track_scales:
            check_range(p + "track_scales", k, 1, 1000)
        if len(set(self.track_scales)) != len(self.track_scales):
            raise ConfigError(f"train.track_scales={','.join(map(str, self.track_scales))} names a scale twice; "
                              "give each once")
        for name in ("lr_decay_every", "lr_decay_after"):  # epochs: bounded like any epoch count
            check_range(p + name, getattr(self, name), 0, 10_000_000)
        if 0 < self.explosion_factor <= 1:
            raise ConfigError(f"train.explosion_factor={self.explosion_factor} is out of range; "
                              "allowed: 0 (off) or > 1")

    def decays(self, epochs_done: int, per_step: bool) -> bool:
        """Whether ``lr_decay`` applies now: after an optimiser step (``per_step``) of epoch
        ``epochs_done`` + 1, or at the end of epoch ``epochs_done`` (``per_step=False``)."""
        if self.lr_decay >= 1.0 or (self.lr_decay_every > 0) == per_step:
            return False
        if per_step:
            return epochs_done >= self.lr_decay_after
        return epochs_done > self.lr_decay_after and (epochs_done - self.lr_decay_after) % self.lr_decay_every == 0


#: top-level keys of config.json besides the settings: where and when it was trained
PROVENANCE_KEYS = ("created", "commit", "dirty", "diff_sha256", "time")


@dataclass
class RunConfig:
    """Everything that determines a training run; serialised as the run's ``config.json``.

    ``model_cfg`` and ``task_cfg`` are the resolved settings of the model's and the task's own
    config classes (checked by them when the run is built); ``train`` is a ``TrainConfig``.
    The provenance fields record the session that last trained the run (``created`` the first).
    """

    model: str
    task: str
    seed: int = 0
    device: str = "cpu"
    model_cfg: dict[str, Any] = field(default_factory=dict)
    task_cfg: dict[str, Any] = field(default_factory=dict)
    train: TrainConfig = field(default_factory=TrainConfig)
    created: str | None = None
    commit: str | None = None
    dirty: bool | None = None
    diff_sha256: str | None = None
    time: str | None = None

    def validate(self) -> None:
        if not self.model or not self.task:
            raise ConfigError("a run config needs a model and a task")
        if not 0 <= self.seed < 2**63:
            raise ConfigError(f"seed={self.seed} is out of range; allowed: 0 <= seed < 2**63")

    def to_json(self) -> dict[str, Any]:
        """The JSON form written to config.json (provenance fields left out while unset)."""
        d = to_dict(self)
        return {k: v for k, v in d.items() if not (k in PROVENANCE_KEYS and v is None)}

    @classmethod
    def from_json(cls, data: Any, source: str = "config") -> "RunConfig":
        """Check and build from parsed JSON; ``source`` names the file in errors."""
        if not isinstance(data, dict):
            raise ConfigError(f"{source} must be a JSON object with model, task, seed, model_cfg, task_cfg "
                              f"and train; got {type(data).__name__}")
        missing = [k for k in ("model", "task") if k not in data]
        if missing:
            raise ConfigError(f"{source} lacks {' and '.join(missing)}; it is not a memlab run config")
        try:
            return from_dict(cls, data)
        except ConfigError as e:
            raise ConfigError(f"{source}: {e}") from None

    # read access as in the dict configs of older code: config["seed"], config.get("device")
    def __getitem__(self, key: str) -> Any:
        return self.to_json()[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.to_json().get(key, default)


def default_settings(model: str, task: str, preset: str | None = None) -> dict[str, dict[str, Any]]:
    """``{"model": …, "train": …}`` defaults of a (model, task) pair: the model entry's own
    per-task defaults, overlaid with the per-paper table ``memlab.experiments.hparams``.

    ``preset`` (``model.preset``, e.g. ``paper-text`` of the LANTM models) goes to the table, so
    a preset brings its own training reading; None: the table's default preset."""
    from memlab.models import get_entry

    entry = get_entry(model)
    md = getattr(entry, "model_defaults", None)
    td = getattr(entry, "train_defaults", None)
    out = {"model": dict(md(task)) if md else {}, "train": dict(td(task)) if td else {}}
    try:
        from memlab.experiments.hparams import paper_defaults
    except ImportError:  # pragma: no cover  (a checkout without the tables)
        return out
    d = (paper_defaults(model, task) if preset is None else paper_defaults(model, task, preset=preset)) or {}
    return {"model": deep_merge(out["model"], dict(d.get("model") or {})),
            "train": deep_merge(out["train"], dict(d.get("train") or {}))}


SECTIONS = ("model", "task", "train")


def resolve_run_config(model: str, task: str, overrides: dict[str, Any] | None = None, seed: int = 0,
                       device: str = "cpu") -> RunConfig:
    """The full, checked config of a run: (model, task) defaults, then ``overrides``.

    ``overrides`` has sections ``model``, ``task`` and ``train`` (the CLI's ``--set
    model.hidden=100`` lands in ``{"model": {"hidden": "100"}}``); any other key is an error.
    ``model.preset`` also picks the training defaults of its reading (``default_settings``);
    explicit ``train.*`` overrides still win.
    """
    from memlab.models import get_entry
    from memlab.tasks import get_task_class

    overrides = dict(overrides or {})
    for key, value in overrides.items():
        if key not in SECTIONS or not isinstance(value, dict):
            raise ConfigError(f"unknown key {key!r}; settings are model.*, task.* or train.* (e.g. train.lr=0.01)")
    entry = get_entry(model)
    task_cls = get_task_class(task)
    task_cfg = from_dict(task_cls.Config, overrides.get("task", {}), prefix="task.")
    task_obj = task_cls(task_cfg)  # checks the ranges hold allowed lengths
    model_over = dict(overrides.get("model") or {})
    preset = model_over.get("preset")
    defaults = default_settings(model, task_obj.name, None if preset is None else str(preset))
    if "preset" not in {f.name for f in dataclasses.fields(entry.config_cls)}:
        model_over.pop("preset", None)  # a reading of the defaults table only (the LSTM baseline's)
    model_cfg = from_dict(entry.config_cls, deep_merge(defaults["model"], model_over), prefix="model.")
    train_cfg = from_dict(TrainConfig, deep_merge(defaults["train"], overrides.get("train", {})), prefix="train.")
    return RunConfig(model=model, task=task_obj.name, seed=_seed(seed), device=str(device),
                     model_cfg=to_dict(model_cfg), task_cfg=to_dict(task_cfg), train=train_cfg)


def settings_of(config: RunConfig) -> dict[str, Any]:
    """What a resume must match: model, task, seed and the model's and task's settings, the
    latter two rebuilt through their config classes so a config.json written before a setting
    existed compares with that setting's default (not as a difference); as saved when they no
    longer build."""
    from memlab.models import get_entry
    from memlab.tasks import get_task_class

    out = {"model": config.model, "task": config.task, "seed": config.seed,
           "model_cfg": config.model_cfg, "task_cfg": config.task_cfg}
    try:
        out["model_cfg"] = to_dict(from_dict(get_entry(config.model).config_cls, config.model_cfg, prefix="model."))
        out["task_cfg"] = to_dict(from_dict(get_task_class(config.task).Config, config.task_cfg, prefix="task."))
    except (ConfigError, KeyError, TypeError, ValueError):
        pass
    return out


def _seed(seed: Any) -> int:
    from memlab.core.runtime import check_seed

    return check_seed(seed)


def read_run_config(run_dir: str | Path) -> RunConfig:
    """The config of the run folder ``run_dir``; one MemlabError line when the folder or its
    config.json is missing, not JSON, or not a run config."""
    run_dir = Path(run_dir)
    path = run_dir / "config.json"
    if not run_dir.is_dir():
        raise MemlabError(f"run folder {run_dir} does not exist")
    if not path.is_file():
        raise MemlabError(f"{run_dir} is not a memlab run folder (no config.json)")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError, OSError, RecursionError) as e:
        raise MemlabError(f"{path} is corrupt (not valid JSON: {type(e).__name__})") from None
    return RunConfig.from_json(data, str(path))
