from dataclasses import dataclass
from typing import Literal

import pytest

from memlab.core.config import config_differences, from_dict, parse_overrides
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


def test_config_differences_name_dotted_keys_with_both_values():
    saved = {"seed": 0, "model": {"preset": "reproduce", "hidden": 50}, "train": {"lr": 0.01}}
    requested = {"seed": 0, "model": {"preset": "reproduce-read-gate", "hidden": 50}, "train": {"lr": 0.01, "clip": 1}}
    assert config_differences(saved, requested) == [
        "model.preset: saved 'reproduce', requested 'reproduce-read-gate'", "train.clip: saved absent, requested 1"]
    assert config_differences(saved, requested, limit=1) == ["model.preset: saved 'reproduce', requested 'reproduce-read-gate'"]
    assert config_differences(saved, saved) == []
    long = config_differences({"xs": list(range(100))}, {"xs": []})[0]  # long values are cut, one line
    assert long.startswith("xs: saved [0, 1, 2") and "..." in long and len(long) < 120
