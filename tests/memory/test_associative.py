"""The shared associative-memory contract (⊗, ⊕, •), checked for every registered memory."""

import pytest
import torch

from memlab.core.errors import ConfigError
from memlab.memory.associative import ASSOCIATIVE_MEMORIES, cleanup, get_associative

D = 16


def build(name):
    cls = get_associative(name)
    kwargs = {
        "hopfield": dict(size=D),
        "cmm": dict(key_size=D, value_size=5),
        "hrr": dict(size=D),
        "redundant": dict(size=D, copies=3),
        "tpr": dict(role_size=D, filler_size=5),
        "sdm": dict(address_size=D, locations=64, radius=5, content_size=5),
        "fast-weights": dict(key_size=D, value_size=5),
    }[name]
    return cls(**kwargs)


def pairs(mem, B, Q, seed):
    g = torch.Generator().manual_seed(seed)
    if type(mem).__name__ == "Hopfield":
        k = torch.randint(0, 2, (B, Q, D), generator=g).float() * 2 - 1
        return k, None
    if type(mem).__name__ == "SparseDistributedMemory":
        return (torch.randint(0, 2, (B, Q, D), generator=g).float(),
                torch.randint(0, 2, (B, Q, mem.value_size), generator=g).float())
    k = torch.randn(B, Q, D, generator=g)
    v = torch.randn(B, Q, mem.value_size, generator=g)
    return k.to(mem.dtype), v.to(mem.dtype)


@pytest.mark.parametrize("name", list(ASSOCIATIVE_MEMORIES))
def test_contract_shapes_batching_and_composition(name):
    mem = build(name)
    k1, v1 = pairs(mem, 2, 3, 0)
    k2, v2 = pairs(mem, 2, 4, 1)
    m = mem.encode(k1, v1)
    assert m.shape == mem.empty(2).shape
    out = mem.decode(m, k1)
    assert out.shape == (2, 3, mem.value_size)
    # batch elements are independent memories: decoding memory 1 alone gives the same result
    solo = mem.decode(mem.encode(k1[1:], None if v1 is None else v1[1:]), k1[1:])
    torch.testing.assert_close(solo, out[1:], atol=1e-4, rtol=1e-4)
    # unbatched inputs come back unbatched
    assert mem.decode(mem.encode(k1[0], None if v1 is None else v1[0]), k1[0]).shape == (3, mem.value_size)
    # stateful store/recall is write-then-decode
    mem.reset(2)
    mem.store(k1, v1)
    torch.testing.assert_close(mem.recall(k1), out)
    if name != "fast-weights":  # ⊕ is addition: storing in two calls equals storing at once
        both = mem.encode(torch.cat([k1, k2], 1), None if v1 is None else torch.cat([v1, v2], 1))
        torch.testing.assert_close(mem.compose(mem.encode(k1, v1), mem.encode(k2, v2)), both, atol=1e-4, rtol=1e-4)


def test_registry_and_cleanup():
    with pytest.raises(ConfigError, match="memory='lstm'.*hopfield"):
        get_associative("lstm")
    items = torch.eye(4)
    c = cleanup(torch.tensor([[[0.1, 0.9, 0.0, 0.2]]]), items)
    assert c.index.tolist() == [[1]] and torch.equal(c.item[0, 0], items[1])
    with pytest.raises(ConfigError, match="items have size 3"):
        cleanup(torch.zeros(1, 1, 4), torch.zeros(2, 3))
