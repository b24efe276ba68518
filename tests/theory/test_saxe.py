"""Deep linear network dynamics (seed 001 eq. 2.12-2.21)."""

import numpy as np
import pytest

from memlab.core.errors import ConfigError
from memlab.theory import saxe as S


def test_closed_form_matches_gradient_descent_on_two_modes():
    s = np.array([2.0, 0.5])
    Syx = np.diag(s)  # U = V = I: two modes
    Sx = np.eye(2)
    U = V = np.eye(2)
    W1, W2 = S.decoupled_init(U, V, hidden=3, a0=1e-3, seed=0)
    lr = 0.002
    sim = S.simulate_gradient_descent(Sx, Syx, W1, W2, lr, steps=int(16 / lr), record_every=50)
    a_sim = S.mode_strengths(sim["W1"], sim["W2"], U, V)
    a_cf = S.mode_strength_closed_form(s, a_sim[0], sim["step"] * lr)
    dev = np.abs(a_sim - a_cf) / s
    assert dev.max() < 0.02
    assert a_sim[-1] == pytest.approx(s, rel=1e-3)  # both modes learned by t = 16 tau
    # strong mode learned first: time to half strength ~ log(s/a0) / (2 s)
    half = [sim["step"][np.argmax(a_sim[:, j] > s[j] / 2)] for j in range(2)]
    assert half[0] < half[1]


def test_closed_form_limits():
    s, a0 = np.array([1.5, 0.3]), np.array([1e-4, 1e-2])
    a = S.mode_strength_closed_form(s, a0, np.array([0.0, 200.0]))
    np.testing.assert_allclose(a[0], a0)
    np.testing.assert_allclose(a[1], s)
    with pytest.raises(ConfigError):
        S.mode_strength_closed_form(s, np.array([0.0, 1.0]), np.array([1.0]))


def test_hierarchical_data_and_experiment():
    X, Y, nodes = S.hierarchical_dataset(2)
    Sx, Syx = S.correlations(X, Y)
    np.testing.assert_allclose(Sx, np.eye(4))
    assert Y.shape == (7, 4) and len(nodes) == 7
    r = S.saxe_experiment(depth=2, lr=0.005, t_max=12)
    assert r["max_rel_dev"] < 0.02
    sv = np.round(r["s"], 8)
    assert len(set(sv)) == 3  # root, 1st split, 2nd split: three distinct mode strengths


def test_classical_mds_preserves_planar_distances():
    rng = np.random.default_rng(0)
    P = rng.standard_normal((7, 2))
    D = np.linalg.norm(P[:, None] - P[None], axis=-1)
    Q = S.classical_mds(D, 2)
    np.testing.assert_allclose(np.linalg.norm(Q[:, None] - Q[None], axis=-1), D, atol=1e-10)


def test_bad_arguments():
    with pytest.raises(ConfigError):
        S.saxe_experiment(init="orthogonal")
    with pytest.raises(ConfigError):
        S.decoupled_init(np.eye(3), np.eye(3), hidden=2, a0=1e-3)
    with pytest.raises(ConfigError):
        S.simulate_gradient_descent(np.eye(2), np.eye(2), np.eye(2), np.eye(2), lr=0.0, steps=3)


def test_cli_saxe(tmp_path):
    from memlab.cli import main
    from memlab.core.io import read_jsonl

    assert main(["run", "theory-saxe", "--no-progress", "--set", "depth=2", "lr=0.01", "t_max=10", "--out", str(tmp_path)]) == 0
    recs = read_jsonl(tmp_path / "saxe.jsonl")
    assert {r["init"] for r in recs} == {"decoupled", "random"}
    assert next(r for r in recs if r["init"] == "decoupled")["max_rel_dev"] < 0.02
    assert (tmp_path / "saxe.png").exists()
