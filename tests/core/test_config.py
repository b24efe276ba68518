from dataclasses import dataclass
from typing import Literal

import pytest

from memlab.core.config import from_dict, parse_overrides
from memlab.core.errors import ConfigError


@dataclass
class Cfg:
    n: int = 3
    lr: float = 0.1
    flag: bool = False
    kind: Literal["a", "b"] = "a"
    sizes: tuple[int, ...] = (1, 2)

    def validate(self):
        if self.n < 1:
            raise ConfigError(f"n={self.n} is out of range; allowed: >= 1")


def test_from_dict_coerces_cli_strings():
    c = from_dict(Cfg, {"n": "5", "lr": "1e-3", "flag": "true", "kind": "b", "sizes": "4,5,6"})
    assert (c.n, c.lr, c.flag, c.kind, c.sizes) == (5, 1e-3, True, "b", (4, 5, 6))


@pytest.mark.parametrize("data, match", [
    ({"m": 1}, "unknown key m .*allowed keys: n, lr"),
    ({"n": "x"}, "n='x' has the wrong type"),
    ({"n": 1.5}, "expected an integer"),
    ({"flag": "maybe"}, "expected true or false"),
    ({"kind": "c"}, "choose one of a, b"),
    ({"n": 0}, "out of range"),
])
def test_bad_values_name_the_key_and_allowed(data, match):
    with pytest.raises(ConfigError, match=match):
        from_dict(Cfg, data)


def test_parse_overrides_nests_and_rejects_malformed():
    assert parse_overrides(["train.lr=0.1", "model.hidden=3", "x=y"]) == {
        "train": {"lr": "0.1"}, "model": {"hidden": "3"}, "x": "y"}
    with pytest.raises(ConfigError, match="key=value"):
        parse_overrides(["nonsense"])
