"""Seed 003 toolkit: operator, bases, coherence, input models, metrics, drivers and CLI."""

import math

import numpy as np
import pytest
import torch

from memlab.core.errors import ConfigError
from memlab.theory import stm


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("family", stm.W_FAMILIES)
def test_operator_equals_simulation(family):
    g = _gen(1)
    M, L, N = 30, 3, 12
    net = stm.random_network(M, L, spectral_radius=0.95, family=family, generator=g)
    A = stm.measurement_operator(net.W, net.Z, N)
    assert A.shape == (M, L * N)
    S = torch.randn(5, L, N, generator=g, dtype=torch.float64)
    x = stm.simulate(net.W, net.Z, S)  # (5, M)
    torch.testing.assert_close(x, stm.vec(S) @ A.T, rtol=1e-12, atol=1e-12)
    # last block is Z (the newest input), first is W^{N-1} Z
    torch.testing.assert_close(A[:, -L:], net.Z)
    torch.testing.assert_close(A[:, :L], torch.linalg.matrix_power(net.W, N - 1) @ net.Z)
    # spectral radius as asked
    assert abs(torch.linalg.eigvals(net.W).abs().max().item() - 0.95) < 1e-10


def test_noise_is_the_simulated_state_noise():
    g = _gen(2)
    M, L, N = 20, 2, 9
    net = stm.random_network(M, L, spectral_radius=0.9, family="gaussian", generator=g)
    S = torch.randn(L, N, generator=g, dtype=torch.float64)
    eps = torch.randn(N, M, generator=g, dtype=torch.float64)
    e = stm.simulate(net.W, net.Z, torch.zeros(L, N, dtype=torch.float64), eps)
    A = stm.measurement_operator(net.W, net.Z, N)
    torch.testing.assert_close(stm.simulate(net.W, net.Z, S, eps), A @ stm.vec(S) + e)


def test_orthogonal_noise_closed_form_matches_simulation():
    g = _gen(3)
    M, N, sigma = 40, 30, 0.5
    net = stm.random_network(M, 2, spectral_radius=0.97, family="orthogonal", generator=g)
    tau = stm.noise_level(net, N, sigma)
    assert tau == pytest.approx(sigma * math.sqrt(sum(0.97 ** (2 * k) for k in range(N)) / M), rel=1e-12)
    # simulate by Horner (label the same W as non-orthogonal) and compare the variance
    sim = stm.state_noise(net._replace(family="gaussian"), N, sigma, 400, g)
    assert sim.std().item() == pytest.approx(tau, rel=0.05)
    direct = stm.state_noise(net, N, sigma, 400, g)
    assert direct.std().item() == pytest.approx(tau, rel=0.05)


def test_vec_unvec_and_kron_basis():
    g = _gen(4)
    L, N, M = 3, 8, 7
    S = torch.randn(L, N, generator=g, dtype=torch.float64)
    s = stm.vec(S)
    assert s[1 * L + 2] == S[2, 1]  # entry n L + l is s_l[n]
    torch.testing.assert_close(stm.unvec(s, L, N), S)
    Psi = stm.time_basis("random", N, generator=g)
    a = torch.randn(N * L, generator=g, dtype=torch.float64)
    kron = torch.kron(Psi, torch.eye(L, dtype=torch.float64))
    torch.testing.assert_close(stm.vec(stm.synthesize(a, Psi, L, N)), kron @ a)
    A = torch.randn(M, N * L, generator=g, dtype=torch.float64)
    torch.testing.assert_close(stm.apply_time_basis(A, Psi, L), A @ kron)


@pytest.mark.parametrize("name", stm.BASES)
def test_bases_orthonormal(name):
    P = stm.time_basis(name, 12, generator=_gen(5))
    torch.testing.assert_close(P.T @ P, torch.eye(12, dtype=torch.float64), atol=1e-12, rtol=0)


def test_coherence_identity_vs_dct():
    N = 64
    I, D = stm.time_basis("identity", N), stm.time_basis("dct", N)
    # DFT grid: canonical basis is maximally incoherent, the DCT (constant atom) maximally coherent
    assert stm.coherence(I) == pytest.approx(1.0, abs=1e-12)
    assert stm.coherence(D) == pytest.approx(math.sqrt(N), rel=1e-12)
    # the network's own modes: same extremes
    net = stm.random_network(80, 2, generator=_gen(6))
    theta = stm.network_modes(net, N)
    torch.testing.assert_close(torch.sort(theta).values,
                               torch.sort(torch.angle(torch.linalg.eigvals(net.W)).abs()).values, atol=1e-8, rtol=0)
    assert stm.coherence(I, theta=theta) == pytest.approx(1.0, abs=1e-12)
    assert stm.coherence(D, net.W) > 0.9 * math.sqrt(N)
    # the knob moves between the two
    mus = [stm.coherence(stm.time_basis("", N, coherence=c)) for c in (0.0, 0.5, 1.0)]
    assert mus[0] == pytest.approx(1.0) and mus[2] == pytest.approx(math.sqrt(N)) and mus[0] < mus[1] < mus[2]


def test_lowrank_coherence():
    g = _gen(7)
    L, N, R = 6, 50, 3
    _, _, Vg = stm.lowrank_input(R, L, N, temporal="gaussian", generator=g)
    _, _, Vd = stm.lowrank_input(R, L, N, temporal="dct", generator=g)
    mu_g, mu_d = stm.lowrank_coherence(Vg), stm.lowrank_coherence(Vd)
    assert 1.0 <= mu_g < mu_d <= N / R + 1e-9
    # R DCT atoms: at least one mode aligns to ~1/2 of an atom
    assert mu_d >= 0.45 * N / R


def test_input_models_shapes_and_sparsity():
    g = _gen(8)
    L, N = 4, 10
    S, a = stm.sparse_input(7, L, N, stm.time_basis("identity", N), generator=g)
    assert S.shape == (L, N) and int((a != 0).sum()) == 7 and int((S != 0).sum()) == 7
    S2, Q, V = stm.lowrank_input(2, L, N, generator=g)
    assert torch.linalg.matrix_rank(S2) == 2 and Q.shape == (L, 2) and V.shape == (N, 2)


def test_bad_arguments_raise_config_error():
    I = stm.time_basis("identity", 5)
    with pytest.raises(ConfigError, match="K"):
        stm.sparse_input(2 * 5 + 1, 2, 5, I)  # K > L N
    with pytest.raises(ConfigError, match="K"):
        stm.sparse_input(0, 2, 5, I)
    with pytest.raises(ConfigError, match="R"):
        stm.lowrank_input(4, 3, 10)  # R > min(L, N)
    with pytest.raises(ConfigError, match="M"):
        stm.random_network(0, 3)
    with pytest.raises(ConfigError, match="M"):
        stm.random_network(-2, 3)
    with pytest.raises(ConfigError, match="family"):
        stm.random_network(4, 3, family="banded")
    with pytest.raises(ConfigError, match="basis"):
        stm.time_basis("wavelet", 8)
    from memlab.core.config import from_dict

    with pytest.raises(ConfigError, match="gamma"):
        from_dict(stm.PhaseConfig, {"gammas": [0.0]})
    with pytest.raises(ConfigError, match="unknown key"):
        from_dict(stm.PhaseConfig, {"gamma": [0.5]})
    with pytest.raises(ConfigError, match="r \\(recall length\\)"):
        from_dict(stm.RecallConfig, {"rs": [0]})


def test_metrics():
    S = torch.ones(2, 3, dtype=torch.float64)
    assert stm.rmse(S * 1.1, S).item() == pytest.approx(0.01)
    assert stm.compression(400, 40, 100) == 0.1
    assert stm.lowrank_complexity(2, 276, 40, 100) == pytest.approx(1.0)
    assert stm.rank_for(1.0, 276, 40, 100) == 2 and stm.sparsity_for(0.25, 400) == 100


def test_donoho_tanner_golden():
    # the values quoted in the issue (Donoho & Tanner's l1 weak threshold)
    np.testing.assert_allclose(stm.donoho_tanner([0.1, 0.25, 0.5]), [0.19, 0.27, 0.39], atol=0.006)


def test_transition_rho():
    assert stm.transition_rho([(0.1, 1.0), (0.2, 1.0), (0.3, 0.0)]) == pytest.approx(0.25)
    assert stm.transition_rho([(0.1, 1.0), (0.2, 0.75), (0.3, 0.25)]) == pytest.approx(0.25)
    assert stm.transition_rho([(0.1, 1.0), (0.2, 1.0)]) == math.inf
    assert stm.transition_rho([(0.1, 0.0), (0.2, 0.0)]) == -math.inf


TINY = dict(L=4, N=10, trials=2, gammas=(0.3, 0.8), rhos_sparse=(0.1, 0.9), rhos_lowrank=(0.5, 3.0),
            nuclear_max_iter=300)


def test_phase_unit_records_and_determinism():
    from memlab.core.config import from_dict

    cfg = from_dict(stm.PhaseConfig, TINY)
    recs = stm.phase_unit(cfg, 1, 0)
    again = stm.phase_unit(cfg, 1, 0)
    assert [r["rmse"] for r in recs] == [r["rmse"] for r in again]
    panels = {r["panel"] for r in recs}
    assert panels == {"sparse-low", "sparse-high", "lowrank-low", "lowrank-high"}
    by = {(r["panel"], r["rho_nominal"]): r for r in recs}
    # well inside (rho = 0.1, gamma = 0.8) recovers to the noise floor; rho = 0.9 does not
    assert by[("sparse-low", 0.1)]["rmse"] < 1e-3
    assert by[("sparse-low", 0.9)]["rmse"] > 1e-2
    assert by[("sparse-low", 0.1)]["mu"] == pytest.approx(1.0)
    assert by[("sparse-high", 0.1)]["mu"] > 2.0


def test_phase_unit_solver_choices_agree_and_bad_config():
    from memlab.core.config import from_dict

    base = dict(TINY, panels=("sparse-low", "sparse-high", "lowrank-low"), nuclear_dtype="float64")
    admm = stm.phase_unit(from_dict(stm.PhaseConfig, dict(base, nuclear_max_iter=3000, nuclear_tol=1e-7)), 1, 0)
    apg = stm.phase_unit(from_dict(stm.PhaseConfig, dict(base, nuclear_solver="apg", nuclear_max_iter=5000,
                                                        nuclear_tol=1e-9)), 1, 0)
    off = stm.phase_unit(from_dict(stm.PhaseConfig, dict(base, lasso_backend="skglm", lasso_saturation=0)), 1, 0)
    cd = stm.phase_unit(from_dict(stm.PhaseConfig, dict(base, lasso_backend="skglm")), 1, 0)
    low = [r for r in admm if r["kind"] == "lowrank"]
    assert low and all(r["solver"]["solver"] == "admm-svt" for r in low)
    for a, b in zip(admm, apg):  # same problems; the two nuclear solvers reach the same rMSE
        assert (a["panel"], a["rho_nominal"]) == (b["panel"], b["rho_nominal"])
        assert a["rmse"] == pytest.approx(b["rmse"], rel=1e-3, abs=1e-8)
    # the batched ADMM LASSO (default) and coordinate descent: same problems, same verdicts
    sp = [(a, b) for a, b in zip(admm, cd) if a["kind"] == "sparse"]
    assert len(sp) == 4 and all(a["solver"]["solver"] == "admm" and b["solver"]["solver"] == "skglm" for a, b in sp)
    for a, b in sp:
        assert (a["panel"], a["rho_nominal"], a["K"]) == (b["panel"], b["rho_nominal"], b["K"])
        assert (a["rmse"] <= 1e-2) == (b["rmse"] <= 1e-2)
        assert a["rmse"] == pytest.approx(b["rmse"], rel=0.3, abs=1e-4)  # floor-level jitter from the debias supports
    # the saturation screen changes nothing inside the recovery region
    by_on = {(r["panel"], r["rho_nominal"]): r["rmse"] for r in cd}
    by_off = {(r["panel"], r["rho_nominal"]): r["rmse"] for r in off}
    assert by_on[("sparse-low", 0.1)] == pytest.approx(by_off[("sparse-low", 0.1)], rel=1e-6)
    for bad, msg in ((dict(nuclear_solver="cvx"), "nuclear_solver"), (dict(nuclear_continuation=0.0), "continuation"),
                     (dict(lasso_saturation=-1.0), "lasso_saturation"), (dict(nuclear_max_iter=0), "nuclear_max_iter"),
                     (dict(lasso_backend="cd"), "lasso_backend"), (dict(lasso_admm_max_iter=0), "lasso_admm_max_iter")):
        with pytest.raises(ConfigError, match=msg):
            from_dict(stm.PhaseConfig, dict(TINY, **bad))


def test_recall_length_trial_smoke():
    from memlab.core.config import from_dict

    cfg = from_dict(stm.RecallConfig, dict(M=30, L=2, T=120, rs=(3, 10, 60), trials=1))
    recs = stm.recall_length_trial(cfg, 0)
    assert [r["r"] for r in recs] == [3, 10, 60]
    assert all(r["interference"] >= 0 for r in recs)
    assert recs[0]["interference"] > recs[-1]["interference"]


def test_cli_phase_diagram_resumes_and_rejects_bad_input(tmp_path, capsys):
    from memlab.cli import main
    from memlab.core.io import read_jsonl

    sets = ["--set", "L=3", "--set", "N=8", "--set", "gammas=0.5", "--set", "rhos_sparse=0.1,0.3",
            "--set", "rhos_lowrank=0.5", "--set", "panels=sparse-low,lowrank-low", "--set", "nuclear_max_iter=100"]
    args = ["run", "stm-phase-diagram", "--set", "trials=2", "--jobs", "1", "--out", str(tmp_path), "--no-plot", "--json",
            "--no-progress"] + sets
    assert main(args) == 0
    n = len(read_jsonl(tmp_path / "phase_records.jsonl"))
    assert n == 2 * (2 + 1)
    assert main(args) == 0  # resume: nothing left to run
    assert len(read_jsonl(tmp_path / "phase_records.jsonl")) == n
    out = capsys.readouterr().out.strip().splitlines()[-1]
    assert '"units_run": 0' in out
    assert main(args[:-2] + ["--set", "N=9"]) == 2  # other config in the same folder
    assert main(["run", "stm-phase-diagram", "--out", str(tmp_path / "x"), "--set", "gammas=1.5"]) == 2
    assert main(["run", "stm-recall-length", "--out", str(tmp_path / "y"), "--set", "density=0"]) == 2
    err = capsys.readouterr().err
    assert "gamma=1.5 is out of range" in err and "density=0.0 is out of range" in err
