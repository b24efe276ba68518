"""The exact stack is a perfect memory (seed 000 Def. 3.1, Thm 3.2)."""

import pytest
import torch

from memlab.core.errors import ConfigError, MemlabError
from memlab.core.interfaces import run_core
from memlab.memory.exact_stack import ExactStack, ExactStackCore


def _items(n, B=3, d=2, seed=0):
    return torch.randn(n, B, d, generator=torch.Generator().manual_seed(seed))


def test_recover_inverts_save():
    mem = ExactStack(2)
    m = mem.save_n(mem.initial_memory(3), _items(4))
    x = _items(1, seed=1)[0]
    x_rec, m_rec = mem.recover(mem.save(m, x))
    assert torch.equal(x_rec, x)
    assert torch.equal(m_rec.items, m.items)


@pytest.mark.parametrize("n", [1, 2, 7])
@pytest.mark.parametrize("n_before", [0, 3])
def test_theorem_3_2_iterated_save_then_recover(n, n_before):
    """γ^n(π^n(m, x_1..x_n)) = (x_n, …, x_1; m) for any starting memory m."""
    mem = ExactStack(2)
    m0 = mem.save_n(mem.initial_memory(3), _items(n_before, seed=5)) if n_before else mem.initial_memory(3)
    xs = _items(n, seed=2)
    rec, m_left = mem.recover_n(mem.save_n(m0, xs), n)
    assert torch.equal(rec, xs.flip(0))  # reverse order
    assert torch.equal(m_left.items, m0.items)  # the original memory
    assert mem.memory_vector(mem.save_n(m0, xs)).shape == (3, (n + n_before) * 2)


def test_empty_and_bad_items():
    mem = ExactStack(2)
    with pytest.raises(MemlabError, match="empty"):
        mem.recover(mem.initial_memory(1))
    with pytest.raises(ConfigError):
        mem.save(mem.initial_memory(1), torch.zeros(1, 3))
    with pytest.raises(ConfigError):
        ExactStack(0)


def test_core_view_forward_sequence_equals_stepping():
    core = ExactStackCore(2)
    xs = _items(5)
    ys, st = core.forward_sequence(xs)
    ys2, st2 = run_core(core, xs)
    assert torch.equal(ys, ys2) and torch.equal(st.items, st2.items)
    assert st.items.shape == (3, 5, 2) and core.state_size(5) == 10
    assert torch.equal(st.items.transpose(0, 1), xs)
