"""``memlab merge``: records run elsewhere join an experiment's folder, checked before any write."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from memlab.core.errors import ConfigError, MemlabError
from memlab.experiments.base import Experiment, RunContext, Unit
from memlab.experiments._merge import merge_experiment
from memlab.experiments.runner import render_experiment, run_experiment


@dataclass
class SliceConfig:
    lo: int = 0
    hi: int = 4
    scale: float = 1.0


class Slice(Experiment):
    """Units u{lo}…u{hi-1}; which slice runs is hash-excluded, as a selection of cells is."""

    name = "slice"
    config_cls = SliceConfig
    default_out = "results/slice"
    hash_exclude = ("lo", "hi")
    record_fields = ("i", "value")

    def units(self, cfg: SliceConfig) -> list[Unit]:
        return [Unit(f"u{i}", {"i": i}) for i in range(cfg.lo, cfg.hi)]

    def run_unit(self, cfg: SliceConfig, unit: Unit, ctx: RunContext) -> list[dict]:
        i = unit.params["i"]
        return [{"i": i, "value": i * cfg.scale, "part": "even" if i % 2 == 0 else "odd"}]

    def summarise(self, cfg: SliceConfig, records: list[dict], out_dir: Path) -> dict:
        total = sum(r["value"] for r in records)
        (out_dir / "summary.md").write_text(f"total {total}\n")
        return {"total": total, "n": len(records)}


class ShardedSlice(Slice):
    name = "sharded-slice"
    records_shard = "part"


SLICE, SHARDED = Slice(), ShardedSlice()


def run(exp: Experiment, out: Path, **cfg) -> None:
    run_experiment(exp, {k: v for k, v in cfg.items()}, out_dir=out, jobs=1, progress=False, plots=False)


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def test_merge_two_slices_equals_one_run_and_is_idempotent(tmp_path):
    a, b, whole = tmp_path / "a", tmp_path / "b", tmp_path / "whole"
    run(SLICE, a, lo=0, hi=2)
    run(SLICE, b, lo=2, hi=4)
    run(SLICE, whole, lo=0, hi=4)
    res = merge_experiment(SLICE, [b], a)
    assert (res["records_added"], res["units_added"], res["invocations_added"]) == (2, 2, 1)
    merged = render_experiment(SLICE, a, plots=False)
    assert merged["total"] == render_experiment(SLICE, whole, plots=False)["total"] == 6.0
    assert sorted(json.loads(l)["unit"] for l in (a / "records.jsonl").read_text().splitlines()) == \
        ["u0", "u1", "u2", "u3"]
    meta = json.loads((a / "slice.meta.json").read_text())
    assert len(meta["invocations"]) == 2
    assert meta["wall_seconds_total"] == pytest.approx(sum(i["wall_seconds"] for i in meta["invocations"]))
    before = snapshot(a)
    again = merge_experiment(SLICE, [b], a)  # the same records again: nothing added
    assert (again["records_added"], again["invocations_added"]) == (0, 0)
    assert snapshot(a) == before
    run(SLICE, a, lo=0, hi=4)  # the merged folder resumes as one: every unit is done
    assert render_experiment(SLICE, a, plots=False)["n"] == 4


def test_merge_into_an_empty_folder_takes_the_sources_config(tmp_path):
    a, b, into = tmp_path / "a", tmp_path / "b", tmp_path / "new" / "into"
    run(SLICE, a, lo=0, hi=1, scale=3.0)
    run(SLICE, b, lo=1, hi=3, scale=3.0)
    res = merge_experiment(SLICE, [a, b], into)
    assert res["records_added"] == 3
    meta = json.loads((into / "slice.meta.json").read_text())
    assert meta["config_hash"] == json.loads((a / "slice.meta.json").read_text())["config_hash"]
    assert meta["config"]["scale"] == 3.0
    assert render_experiment(SLICE, into, plots=False)["total"] == 9.0


def test_merge_refuses_other_configs_and_differing_units_and_writes_nothing(tmp_path):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    run(SLICE, a, lo=0, hi=2)
    run(SLICE, b, lo=2, hi=3, scale=2.0)  # another configuration
    run(SLICE, c, lo=1, hi=3)  # u1 again, run elsewhere: its record differs (here its value)
    recs = [json.loads(l) for l in (c / "records.jsonl").read_text().splitlines()]
    recs[0]["value"] += 0.5
    (c / "records.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))
    before = snapshot(a)
    with pytest.raises(ConfigError, match="another configuration.*scale"):
        merge_experiment(SLICE, [b], a)
    with pytest.raises(ConfigError, match="unit 'u1' has other records"):
        merge_experiment(SLICE, [c], a)
    assert snapshot(a) == before
    with pytest.raises(ConfigError, match="not a folder"):
        merge_experiment(SLICE, [tmp_path / "missing"], a)
    with pytest.raises(ConfigError, match="holds no slice records"):
        (tmp_path / "empty").mkdir()
        merge_experiment(SLICE, [tmp_path / "empty"], a)
    with pytest.raises(ConfigError, match="named twice or is --out"):
        merge_experiment(SLICE, [a], a)
    with pytest.raises(ConfigError, match="named twice"):
        merge_experiment(SLICE, [c, c], tmp_path / "d")
    want = f"another configuration .*, {re.escape(str(c))} has [0-9a-f]+; differs in scale: saved 1.0, requested 2.0\\)"
    with pytest.raises(ConfigError, match=want):
        merge_experiment(SLICE, [c, b], tmp_path / "d")  # into a new folder: the first source sets the config
    with pytest.raises(ConfigError, match="at least one"):
        merge_experiment(SLICE, [], a)
    assert snapshot(a) == before and not (tmp_path / "d").exists()


def test_merge_keeps_shards(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    run(SHARDED, a, lo=0, hi=1)
    run(SHARDED, b, lo=1, hi=4)
    merge_experiment(SHARDED, [b], a)
    assert sorted(p.name for p in a.glob("records*.jsonl")) == ["records-even.jsonl", "records-odd.jsonl"]
    assert [json.loads(l)["i"] for l in (a / "records-even.jsonl").read_text().splitlines()] == [0, 2]
    assert [json.loads(l)["i"] for l in (a / "records-odd.jsonl").read_text().splitlines()] == [1, 3]


def test_merge_refuses_a_record_whose_shard_names_no_file(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    run(SHARDED, a, lo=0, hi=1)
    run(SHARDED, b, lo=1, hi=2)
    rec = json.loads((b / "records-odd.jsonl").read_text())
    (b / "records-odd.jsonl").write_text(json.dumps({**rec, "part": "../up"}) + "\n")
    before = snapshot(a)
    with pytest.raises(MemlabError, match="unit 'u1': a record whose part names no records file"):
        merge_experiment(SHARDED, [b], a)
    assert snapshot(a) == before and not (tmp_path / "up.jsonl").exists()
