"""Fisher memory curve (seed 001 eq. 2.27-2.28): closed forms, invariants, argument errors."""

import numpy as np
import pytest

from memlab.core.errors import ConfigError
from memlab.theory import fisher as F


@pytest.mark.parametrize("family", [F.orthogonal_network, F.symmetric_network])
@pytest.mark.parametrize("eps", [1.0, 0.3])
def test_normal_closed_form_equals_general_formula(family, eps):
    W, v = family(12, 0.85, seed=3)
    J = F.fisher_memory_curve(W, v, eps, 80)
    Jc = F.fisher_memory_curve_normal(W, v, eps, 80)
    np.testing.assert_allclose(J, Jc, rtol=1e-8, atol=1e-8 * Jc.max())


@pytest.mark.parametrize("rho", [0.5, 0.9, 0.99])
def test_total_memory_of_orthogonal_network_is_one(rho):
    W, v = F.orthogonal_network(10, rho, seed=1)
    k_max = int(np.ceil(np.log(1e-14) / np.log(rho**2)))
    assert F.fisher_memory_curve(W, v, 1.0, k_max).sum() == pytest.approx(1.0, abs=1e-10)


def test_normal_total_scales_with_signal_and_noise():
    W, v = F.symmetric_network(8, 0.7, seed=0)
    J = F.fisher_memory_curve(W, 2.0 * v, 0.5, 200)
    assert J.sum() == pytest.approx(4.0 / 0.5, rel=1e-9)  # |v|^2 / eps


def test_delay_line_gives_harmonic_number():
    for N in (1, 5, 17):
        W, v = F.delay_line(N, 1.0)
        J = F.fisher_memory_curve(W, v, 1.0, N + 3)
        np.testing.assert_allclose(J[:N], 1.0 / np.arange(1, N + 1), rtol=1e-12)
        assert np.all(J[N:] == 0)
        assert J.sum() == pytest.approx(F.harmonic_number(N), rel=1e-12)


@pytest.mark.parametrize("alpha", [1.5, 2.0, 3.0])
def test_amplifying_chain_approaches_N(alpha):
    N = 24
    W, v = F.delay_line(N, alpha)
    J = F.fisher_memory_curve(W, v, 1.0, N)
    np.testing.assert_allclose(J, F.delay_line_fisher_closed_form(N, alpha, 1.0, N), rtol=1e-9, atol=1e-12)
    tot = J.sum()
    assert N * (1 - alpha**-2) <= tot <= N  # above the asymptote, below Ganguli's bound N
    assert tot - N * (1 - alpha**-2) < 1.0 / (alpha**2 - 1) + 1e-9  # the gap is a geometric tail, independent of N


def test_non_normal_network_respects_upper_bound():
    W, v = F.gaussian_network(15, 0.95, seed=2)
    tot = F.fisher_memory_curve(W, v, 1.0, 3000).sum()
    assert 0 < tot <= 15


def test_bad_arguments_raise_config_error():
    W, v = F.orthogonal_network(4, 0.5)
    with pytest.raises(ConfigError, match="square"):
        F.fisher_memory_curve(np.ones((3, 4)), np.ones(3), 1.0, 5)
    with pytest.raises(ConfigError, match="eps"):
        F.fisher_memory_curve(W, v, 0.0, 5)
    with pytest.raises(ConfigError, match="eps"):
        F.fisher_memory_curve(W, v, -1.0, 5)
    with pytest.raises(ConfigError, match="spectral radius"):
        F.fisher_memory_curve(2 * W, v, 1.0, 5)
    with pytest.raises(ConfigError, match="entries"):
        F.fisher_memory_curve(W, np.ones(3), 1.0, 5)
    with pytest.raises(ConfigError, match="not normal"):
        F.fisher_memory_curve_normal(*F.delay_line(4, 1.0), 1.0, 5)
    with pytest.raises(ConfigError, match="k_max"):
        F.fisher_memory_curve(W, v, 1.0, -1)


def test_experiment_records_are_consistent():
    recs = F.fisher_experiment(N=8, k_max=20)
    curves = {r["family"]: r for r in recs if r["kind"] == "curve"}
    assert curves["delay line, alpha=1"]["J_total"] == pytest.approx(F.harmonic_number(8))
    for r in curves.values():
        if r["normal"]:
            assert r["J_total"] == pytest.approx(1.0, abs=1e-8)
            assert r["max_rel_diff_closed"] < 1e-8


def test_cli_writes_records_figure_and_summary(tmp_path, capsys):
    import json

    from memlab.cli import main
    from memlab.core.io import read_jsonl

    assert main(["run", "theory-fisher", "--quick", "--set", "N=6", "k_max=12", "--out", str(tmp_path), "--json",
                 "--no-progress"]) == 0
    head = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert head["J_total"]["delay line, alpha=1"] == pytest.approx(F.harmonic_number(6), abs=1e-6)
    recs = read_jsonl(tmp_path / "fisher.jsonl")
    assert recs and all("commit" in r and r["seed"] == 0 for r in recs)
    assert (tmp_path / "fisher.png").stat().st_size > 1000
    assert "Fisher memory curve" in (tmp_path / "SUMMARY.md").read_text()
    assert main(["run", "theory-fisher", "--set", "eps=0", "--out", str(tmp_path / "x")]) == 2
    assert main(["run", "theory-fisher", "--set", "rho=1.5", "--out", str(tmp_path / "x")]) == 2


@pytest.mark.parametrize("make", [lambda: F.gaussian_network(9, 0.8, 5), lambda: F.delay_line(7, 1.7), lambda: F.orthogonal_network(6, 0.6, 2)])
def test_total_memory_trace_formula_equals_summed_curve(make):
    W, v = make()
    assert F.fisher_total(W, v, 0.7) == pytest.approx(F.fisher_memory_curve(W, v, 0.7, 600).sum(), rel=1e-9)
