"""The ESN's closed-form ridge readout through the shared trainer (``model.readout=ridge``): the
running-sum solution equals the normal equations, sklearn's Ridge and ``ridge_readout``; the
model's fit over batches equals one ridge fit over their masked states; trained by the trainer
(no gradient steps) it scores on a task, resumes to the same weights, and a non-finite fit stops
the run as diverged."""

import json

import numpy as np
import pytest
import torch

from memlab.cli import main
from memlab.controllers.esn import ESNModel, add_moments, ridge_moments, ridge_readout, ridge_solve
from memlab.core.errors import ConfigError
from memlab.models import build_model
from memlab.tasks import make_task
from memlab.training.run import train_run

D = torch.float64


def _data(S=60, N=7, O=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(S, N, generator=g, dtype=D) + 0.5  # not centred: the bias matters
    Y = X @ torch.randn(N, O, generator=g, dtype=D) + torch.randn(S, O, generator=g, dtype=D) + 2.0
    return X, Y


@pytest.mark.parametrize("ridge", [0.0, 0.3, 10.0])
def test_ridge_from_sums_equals_the_normal_equations_and_ridge_readout(ridge):
    X, Y = _data()
    W, b = ridge_solve(ridge_moments(X, Y), ridge)
    # normal equations of the augmented design [X, 1] with the bias column unpenalised
    Xa = torch.cat([X, torch.ones(len(X), 1, dtype=D)], 1)  # (S, N + 1)
    P = torch.diag(torch.tensor([ridge] * X.shape[1] + [0.0], dtype=D))
    Wa = torch.linalg.solve(Xa.T @ Xa + P, Xa.T @ Y)  # (N + 1, O)
    torch.testing.assert_close(W, Wa[:-1].T, rtol=1e-9, atol=1e-10)
    torch.testing.assert_close(b, Wa[-1], rtol=1e-9, atol=1e-10)
    W2, b2 = ridge_readout(X, Y, ridge)
    torch.testing.assert_close(W, W2, rtol=1e-9, atol=1e-10)
    torch.testing.assert_close(b, b2, rtol=1e-9, atol=1e-10)
    # the sums add: two halves summed give the fit over all samples
    halves = add_moments(ridge_moments(X[:25], Y[:25]), ridge_moments(X[25:], Y[25:]))
    torch.testing.assert_close(ridge_solve(halves, ridge)[0], W, rtol=1e-10, atol=1e-12)


def test_ridge_from_sums_equals_sklearn_ridge():
    Ridge = pytest.importorskip("sklearn.linear_model").Ridge
    X, Y = _data(S=80, N=6, O=2, seed=3)
    for alpha in (1e-3, 1.0, 25.0):
        W, b = ridge_solve(ridge_moments(X, Y), alpha)
        ref = Ridge(alpha=alpha, fit_intercept=True, solver="cholesky").fit(X.numpy(), Y.numpy())
        np.testing.assert_allclose(W.numpy(), ref.coef_, rtol=1e-8, atol=1e-10)
        np.testing.assert_allclose(b.numpy(), ref.intercept_, rtol=1e-8, atol=1e-10)


def test_ridge_solve_without_samples_is_a_one_line_error():
    m = ridge_moments(torch.zeros(0, 3, dtype=D), torch.zeros(0, 2, dtype=D))
    with pytest.raises(ConfigError, match="needs at least one sample") as e:
        ridge_solve(m)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("task_name, over", [("ntm-copy", {}), ("associative-retrieval", {"embed": 5})])
def test_model_fit_over_batches_is_one_ridge_fit_over_their_masked_states(task_name, over):
    task = make_task(task_name)
    model = build_model("esn", task.spec, overrides={"readout": "ridge", "reservoir_size": 20,
                                                                    "ridge": 0.01, **over})
    assert isinstance(model, ESNModel) and model.fits_in_closed_form
    g = torch.Generator().manual_seed(0)
    batches = [task.sample_range(4, *task.train_range, g) for _ in range(3)]
    model.fit_closed_form(batches[:1])  # one epoch, then two more batches: the sums carry over
    model.fit_closed_form(batches[1:])
    with torch.no_grad():
        X = torch.cat([model.core.states(model.encoder(b.inputs))[b.mask] for b in batches]).double()  # (S, N)
    if task.spec.kind == "symbolic":
        Y = torch.nn.functional.one_hot(torch.cat([b.targets[b.mask] for b in batches]), task.spec.output_size).double()
    else:
        Y = 2.0 * torch.cat([b.targets[b.mask] for b in batches]).double() - 1.0  # bits as ±1
    W, b = ridge_readout(X, Y, 0.01)
    torch.testing.assert_close(model.readout.weight.double(), W, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(model.readout.bias.double(), b, rtol=1e-4, atol=1e-5)
    assert float(model.ridge_n) == X.shape[0]


def test_gradient_readout_is_unchanged_and_has_no_sums():
    task = make_task("ntm-copy")
    model = build_model("esn", task.spec, overrides={"reservoir_size": 12})
    assert not model.fits_in_closed_form and not any(k.startswith("ridge_") for k in model.state_dict())
    with pytest.raises(ConfigError, match="model.readout='lsq' is not allowed; choose one of gradient, ridge"):
        build_model("esn", task.spec, overrides={"readout": "lsq"})
    with pytest.raises(ConfigError, match="model.ridge=-1.0 is out of range"):
        build_model("esn", task.spec, overrides={"ridge": -1.0})


SHORT = {"task": {"train_min": 1, "train_max": 1, "test_min": 1, "test_max": 1},
         "model": {"readout": "ridge", "reservoir_size": 100},
         "train": {"max_epochs": 4, "batches_per_epoch": 3, "batch_size": 16, "eval_every": 1, "eval_batches": 5,
                   "checkpoint_every": 2, "target_coarse": 2.0}}


def test_the_trainer_fits_the_ridge_readout_and_the_model_scores(tmp_path):
    s = train_run("esn", "ntm-copy", SHORT, seed=0, out=tmp_path, name="ridge", progress=False)
    assert s["status"] == "done" and s["epochs"] == 4 and s["nonfinite_events"] == 0
    assert s["best_test"]["coarse"] == 1.0  # one 8-bit vector recalled exactly from the reservoir
    metrics = [json.loads(line) for line in (tmp_path / "ridge" / "metrics.jsonl").read_text().splitlines()]
    assert all("grad_norm" not in r for r in metrics)  # no gradient step was taken
    ckpt = torch.load(tmp_path / "ridge" / "checkpoints" / "last.pt", weights_only=True)
    assert ckpt["optimizer"]["state"] == {}  # the optimiser never stepped
    assert float(ckpt["model"]["ridge_n"]) == 4 * 3 * 16 * 1  # epochs × batches × sequences × masked steps (k = 1)
    # the same budget by gradient (the default readout) does not recall them all
    grad = json.loads(json.dumps(SHORT))
    grad["model"]["readout"] = "gradient"
    g = train_run("esn", "ntm-copy", grad, seed=0, out=tmp_path, name="grad", progress=False)
    assert g["best_test"]["coarse"] < 1.0


def test_a_resumed_ridge_run_ends_with_the_same_readout(tmp_path):
    class Killed(RuntimeError):
        pass

    def kill(rec):
        if rec["epoch"] == 3:
            raise Killed()

    full = train_run("esn", "ntm-copy", SHORT, seed=1, out=tmp_path, name="full", progress=False)
    with pytest.raises(Killed):  # the last checkpoint is epoch 2
        train_run("esn", "ntm-copy", SHORT, seed=1, out=tmp_path, name="killed", progress=False, callbacks=[kill])
    resumed = train_run(resume=tmp_path / "killed", progress=False)
    assert resumed["resumed"] and resumed["epochs"] == full["epochs"] == 4
    a = torch.load(tmp_path / "full" / "checkpoints" / "last.pt", weights_only=True)["model"]
    b = torch.load(tmp_path / "killed" / "checkpoints" / "last.pt", weights_only=True)["model"]
    for k in ("readout.weight", "readout.bias", "ridge_n", "ridge_Sxx"):
        assert torch.equal(a[k], b[k]), k


def test_a_non_finite_ridge_fit_stops_the_run_as_diverged(tmp_path, capsys):
    args = ["train", "--model", "esn", "--task", "ntm-copy", "--out", str(tmp_path), "--no-progress", "--set",
            "model.readout=ridge", "model.reservoir_size=20", "model.activation=linear", "model.spectral_radius=1000",
            "model.divergence=ignore", "train.max_epochs=3", "train.batches_per_epoch=2", "train.batch_size=4"]
    assert main(args) == 3  # a diverged run (see the trainer): states overflow, the fit is NaN
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert "diverged at epoch 1: the closed-form fit gave a non-finite loss" in last, last


def test_a_ridge_run_never_halves_its_unused_learning_rate(tmp_path):
    cfg = json.loads(json.dumps(SHORT))
    cfg["train"].update(lr_halve_after=1, lr_patience=1)  # a gradient run would halve at every plateau
    s = train_run("esn", "ntm-copy", cfg, seed=0, out=tmp_path, name="r", progress=False)
    events = (tmp_path / "r" / "events.jsonl")
    lr = json.loads((tmp_path / "r" / "config.json").read_text())["train"]["lr"]
    assert s["lr"] == lr and (not events.exists() or "lr_halved" not in events.read_text())
