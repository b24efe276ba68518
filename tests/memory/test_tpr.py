"""Tensor product representations (seed 001 eq. 2.58–2.63)."""

import pytest
import torch

from memlab.core.errors import ConfigError
from memlab.memory.tpr import (
    TensorProductRepresentation,
    decode_tree,
    encode_tree,
    orthonormal_roles,
    random_roles,
    role_path,
    tpr_bind,
    tpr_unbind,
    unbinding_vectors,
)


def g(seed=0):
    return torch.Generator().manual_seed(seed)


def test_orthonormal_roles_unbind_exactly():
    roles = orthonormal_roles(3, 16, 16, g())
    fillers = torch.randn(3, 16, 10, generator=g(1))
    mem = TensorProductRepresentation(16, 10)
    mem.store(roles, fillers)
    assert mem.trace.shape == (3, 10, 16)
    torch.testing.assert_close(mem.recall(roles), fillers, atol=1e-5, rtol=0)


def test_random_roles_crosstalk_and_dual_basis():
    roles = random_roles(2, 12, 32, g(2)).double()
    fillers = torch.randn(2, 12, 5, generator=g(3), dtype=torch.float64)
    T = tpr_bind(fillers, roles)
    direct = tpr_unbind(T, roles)
    # the crosstalk is exactly Σ_{i≠j} f_i (r_i·r_j)
    G = roles @ roles.transpose(-1, -2)
    torch.testing.assert_close(direct, G @ fillers)
    assert (direct - fillers).norm() > 0.1 * fillers.norm()
    torch.testing.assert_close(tpr_unbind(T, unbinding_vectors(roles)), fillers)


def test_seed_example_dog_bark_horse_big():
    # eq. 2.60: T = f_dog ⊗ r_bark + f_horse ⊗ r_big
    r = orthonormal_roles(1, 2, 8, g(4))[0]
    f = torch.randn(2, 6, generator=g(5))
    T = tpr_bind(f[None], r[None])
    torch.testing.assert_close(tpr_unbind(T, r[None, 1:2])[0, 0], f[1], atol=1e-6, rtol=0)


def test_tree_with_nested_roles():
    # eq. 2.61–2.63: A at path "0", B at "01", C at "11"
    roles = orthonormal_roles(1, 2, 4, g(6))[0]
    A, B, C = (torch.randn(2, 5, generator=g(7 + i)) for i in range(3))
    T = encode_tree({"0": A, "01": B, "11": C}, roles)
    assert T[1].shape == (2, 5, 4) and T[2].shape == (2, 5, 4, 4)
    torch.testing.assert_close(decode_tree(T, "0", roles), A, atol=1e-6, rtol=0)
    torch.testing.assert_close(decode_tree(T, "01", roles), B, atol=1e-6, rtol=0)
    torch.testing.assert_close(decode_tree(T, "11", roles), C, atol=1e-6, rtol=0)
    torch.testing.assert_close(decode_tree(T, "10", roles), torch.zeros(2, 5), atol=1e-6, rtol=0)
    assert role_path(roles, "01").shape == (4, 4)
    torch.testing.assert_close(role_path(roles, "01"), torch.outer(roles[0], roles[1]))


def test_bad_arguments():
    with pytest.raises(ConfigError, match="count=5.*count <= 4"):
        orthonormal_roles(1, 5, 4)
    with pytest.raises(ConfigError, match="path='2'"):
        role_path(torch.eye(2), "2")
    with pytest.raises(ConfigError, match="depth 3.*allowed depths: \\[1\\]"):
        decode_tree({1: torch.zeros(1, 2, 2)}, "000", torch.eye(2))
    with pytest.raises(ConfigError, match=r"values has shape"):
        TensorProductRepresentation(4, 3).store(torch.ones(2, 4), torch.ones(3, 3))


def test_capacity_command_writes_records_figure_summary(tmp_path, capsys):
    import json

    from memlab.cli import main
    from memlab.core.io import read_jsonl

    assert main(["run", "capacity-tpr", "--quick", "--out", str(tmp_path), "--no-progress", "--json"]) == 0
    head = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert head["orthonormal_exact_up_to_Q"] == 16
    recs = read_jsonl(tmp_path / "tpr.jsonl")
    assert all(r["kind"] == "point" and "commit" in r and r["unit"] == "all" for r in recs)
    assert (tmp_path / "tpr.png").stat().st_size > 0
    assert "Tensor product representation" in (tmp_path / "README.md").read_text()
    assert main(["run", "capacity-tpr", "--set", "role_sise=3", "--out", str(tmp_path)]) == 2
    assert "unknown key role_sise" in capsys.readouterr().err
