"""bAbI-style stories: golden worlds, answers equal an independent replay of the story, the answer
never leaks into the question, seeded determinism, disjoint train/test sets, one-line errors."""

import pytest
import torch

from memlab.core.errors import ConfigError
from memlab.tasks import make_task
from memlab.tasks.babi import (COUNTS, DIRECTIONS, GET, MOVE, PLACES, QA, RELATIONS, WORDS, Babi, World, decode,
                               encode, make_story, world_question)


class FixedRng:
    """Always picks option ``i`` (a golden question without a generator)."""

    def __init__(self, i=0):
        self.i = i

    def int(self, n):
        return min(self.i, n - 1)

    def choice(self, xs):
        xs = list(xs)
        return xs[min(self.i, len(xs) - 1)]


def test_golden_world():
    w = World()
    for e in [("move", "mary", "kitchen"), ("get", "mary", "apple"), ("move", "mary", "garden"),
              ("get", "mary", "milk"), ("move", "john", "office"), ("drop", "mary", "milk"),
              ("move", "mary", "office")]:
        w.apply(e)
    assert w.person_at == {"mary": "office", "john": "office"}
    assert w.object_at == {"apple": "office", "milk": "garden"}
    assert w.history["apple"] == ["kitchen", "garden", "office"]
    assert world_question("two-supporting-facts", w, FixedRng(0)) == ("where is the apple ?", "office")
    assert world_question("three-supporting-facts", w, FixedRng(1)) == ("where was the apple before the office ?", "garden")
    assert world_question("counting", w, FixedRng(0)) == ("how many objects is mary carrying ?", "one")
    assert world_question("lists-sets", w, FixedRng(0)) == ("what is mary carrying ?", "apple")
    with pytest.raises(ValueError):
        w.apply(("get", "john", "milk"))  # the milk lies in the garden, john is in the office


def test_golden_seeded_story():
    story, q, a = make_story("single-supporting-fact", 3, torch.Generator().manual_seed(0))
    assert " ".join(story) == ("daniel moved to the office . mary went to the bathroom . "
                               "daniel moved to the hallway .")
    assert (q, a) == ("where is mary ?", "bathroom")


def _replay(story, question):
    """An independent reader: replays the sentences and answers the question."""
    at, holder, place_of, hist = {}, {}, {}, {}
    shapes, grid = {}, {}
    for s in story:
        w = s.rstrip(" .").split()
        if w[0] == "the":  # positional / path facts: "the A .. is REL the B" or "the A is DIR of the B"
            i = w.index("is")
            a, rest = " ".join(w[1:i]), w[i + 1 :]
            rel = " ".join(rest[: rest.index("the")]).removesuffix(" of") if rest[0] in DIRECTIONS else \
                " ".join(rest[: rest.index("the")])
            b = " ".join(rest[rest.index("the") + 1 :])
            step = DIRECTIONS.get(rel) or RELATIONS[rel]
            (grid if rest[0] in DIRECTIONS else shapes).setdefault("facts", []).append((a, b, step))
            continue
        p, verb = w[0], " ".join(w[1:-2])
        thing = w[-1]
        if verb in MOVE:
            at[p] = thing
            for o, h in holder.items():
                if h == p:
                    place_of[o] = thing
                    hist.setdefault(o, []).append(thing)
        elif verb in GET:
            holder[thing] = p
            place_of[thing] = at[p]
            if not hist.get(thing) or hist[thing][-1] != at[p]:
                hist.setdefault(thing, []).append(at[p])
        else:
            del holder[thing]
    q = question.rstrip(" ?").split()

    def coords(facts):
        pos = {facts[0][1]: (0, 0)}
        while len(pos) < len(facts) + 1:
            for a, b, (dx, dy) in facts:
                if b in pos and a not in pos:
                    pos[a] = (pos[b][0] + dx, pos[b][1] + dy)
                if a in pos and b not in pos:
                    pos[b] = (pos[a][0] - dx, pos[a][1] - dy)
        return pos

    if q[:2] == ["where", "is"]:
        return at[q[2]] if q[2] in at else place_of[q[3]]
    if q[:2] == ["where", "was"]:
        h = hist[q[3]]
        return h[h.index(q[6]) - 1]
    if q[:2] == ["how", "many"]:
        return COUNTS[sum(h == q[4] for h in holder.values())]
    if q[:2] == ["what", "is"]:
        return " ".join(sorted(o for o, h in holder.items() if h == q[2])) or "nothing"
    if q[0] == "is" and q[2] == "in":
        return "yes" if at[q[1]] == q[4] else "no"
    if q[0] == "is":
        pos = coords(shapes["facts"])
        a = " ".join(q[2:4])
        rel = next(r for r in RELATIONS if " ".join(q[4:]).startswith(r))
        b = " ".join(q[4 + len(rel.split()) + 1 :])
        dx, dy = RELATIONS[rel]
        axis, sign = (0, dx) if dx else (1, dy)
        return "yes" if (pos[a][axis] - pos[b][axis]) * sign > 0 else "no"
    pos = coords(grid["facts"])  # path: "how do you go from the A to the B"
    src, dst = q[6], q[9]
    (x0, y0), (x1, y1) = pos[src], pos[dst]
    options = [" ".join([d1, d2]) for d1, s1 in DIRECTIONS.items() for d2, s2 in DIRECTIONS.items()
               if (x0 + s1[0] + s2[0], y0 + s1[1] + s2[1]) == (x1, y1)
               and (x0 + s1[0], y0 + s1[1]) in pos.values()]
    return options


@pytest.mark.parametrize("qa", list(QA))
def test_answer_is_the_world_state_and_never_in_the_question(qa):
    g = torch.Generator().manual_seed(7)
    lo, hi = QA[qa]
    for n in range(60):
        k = lo + n % (min(hi, lo + 8) - lo + 1)
        story, q, a = make_story(qa, k, g)
        assert len(story) == k
        want = _replay(story, q)
        assert (a in want) if isinstance(want, list) else a == want, (story, q, a, want)
        assert not set(a.split()) & set(q.rstrip(" ?").split()), (q, a)  # no leak
        encode(" ".join(story + [q, a]))  # every word is in the vocabulary


def test_layout_and_determinism():
    task = make_task("babi", {"qa": "lists-sets"})
    b1 = task.sample(3, [2, 5, 3], torch.Generator().manual_seed(3))
    b2 = task.sample(3, [2, 5, 3], torch.Generator().manual_seed(3))
    assert all(torch.equal(x, y) for x, y in zip(b1, b2))
    x = b1.inputs[:, 0]
    assert int(x[0]) == task.sos and decode(x[1 : int(b1.n_input[0])]).endswith("carrying ?")
    assert decode(x[1 : int(b1.n_input[0])]).count(" . ") + 1 == 3  # 2 sentences, then the question
    assert WORDS[0] == "." and WORDS[1] == "?"


def test_datasets_are_fixed_and_test_is_disjoint_from_train():
    task = Babi({"qa": "single-supporting-fact", "train_min": 1, "train_max": 2, "test_min": 1, "test_max": 2})
    train = task.dataset("train", 100)
    assert [x.tolist() for x, _ in train] == [x.tolist() for x, _ in task.dataset("train", 100)]
    seen = {tuple(x.tolist()) for x, _ in train}
    test = task.dataset("test", 50, exclude=seen)
    assert not seen & {tuple(x.tolist()) for x, _ in test}


@pytest.mark.parametrize("cfg,word", [
    ({"qa": "positional-reasoning", "train_max": 9}, "world allows"),
    ({"qa": "path-finding", "train_min": 1, "train_max": 3}, "world allows"),
    ({"qa": "telepathy"}, "single-supporting-fact"),
    ({"qa": "counting", "train_max": float("nan")}, "train_max"),
])
def test_impossible_settings_are_one_line_errors(cfg, word):
    with pytest.raises(ConfigError, match=word) as e:
        make_task("babi", cfg)
    assert "\n" not in str(e.value)


def test_sample_rejects_impossible_lengths():
    task = make_task("babi", {"qa": "positional-reasoning"})
    with pytest.raises(ConfigError, match="impossible"):
        task.sample(1, 7, torch.Generator().manual_seed(0))


def test_golden_yes_no_asks_the_current_place_or_another_one():
    w = World()
    for e in [("move", "mary", "kitchen"), ("move", "john", "office"), ("move", "mary", "garden")]:
        w.apply(e)
    # FixedRng(1): the second person (mary), rng.int(2) = 1 -> her current place -> yes
    assert world_question("yes-no", w, FixedRng(1)) == ("is mary in the garden ?", "yes")
    # FixedRng(0): john, rng.int(2) = 0 -> the first place he is not in -> no
    assert world_question("yes-no", w, FixedRng(0)) == ("is john in the kitchen ?", "no")


def test_yes_no_is_balanced_and_its_answer_depends_on_the_story():
    """Half the answers are yes; the same question after a story whose last sentence moves the
    person elsewhere flips a yes to no (the answer is read from the world, not the question)."""
    g = torch.Generator().manual_seed(0)
    answers = [make_story("yes-no", 2 + n % 9, g)[2] for n in range(400)]
    assert 0.42 < answers.count("yes") / len(answers) < 0.58
    for n in range(30):
        story, q, a = make_story("yes-no", 3, g)
        person, place = q.split()[1], q.split()[-2]
        elsewhere = next(p for p in PLACES if p != place)
        moved = story + [f"{person} went to the {elsewhere} ."]
        assert _replay(moved, q) == "no"
        assert _replay(story + [f"{person} went to the {place} ."], q) == "yes"
        assert a == _replay(story, q)


def test_positional_reasoning_is_balanced_at_every_story_length():
    """Half the answers are yes at each length (drawing the pair and relation at random gave ~70%
    no, which a constant guess scores); each answer agrees with the independent reader."""
    g = torch.Generator().manual_seed(1)
    for k in (1, 2, 4):
        stories = [make_story("positional-reasoning", k, g) for _ in range(300)]
        yes = sum(a == "yes" for _, _, a in stories) / len(stories)
        assert 0.42 < yes < 0.58, (k, yes)
        assert all(a == _replay(story, q) for story, q, a in stories[:60])


@pytest.mark.parametrize("qa", ["two-supporting-facts", "three-supporting-facts", "yes-no"])
def test_the_memory_holds_every_sentence_the_answer_needs(qa):
    """What a memory network stores of an encoded story (Sentences) is exactly the story's
    sentences, most recent first, and the question: replaying the stored sentences gives the answer."""
    from memlab.models.memn2n import Sentences

    task = make_task("babi", {"qa": qa})
    g = torch.Generator().manual_seed(5)
    for k in (3, 10):
        story, q, a = make_story(qa, k, g)
        x = torch.cat([torch.tensor([task.sos]), encode(" ".join(story + [q]))])
        s = Sentences(x.unsqueeze(1), torch.tensor([len(x)]), 0, 1, 50, pad=True)
        stored = [decode(x[s.word[:, 0] & s.in_memory[:, 0] & (s.slot[:, 0] == i)]) + " ." for i in range(k)]
        assert stored[::-1] == story and int(s.n_stored[0]) == k
        assert decode(x[s.in_question[:, 0]]) + " ?" == q
        assert _replay(stored[::-1], q) == a or a in _replay(stored[::-1], q)


def test_two_and_three_supporting_facts_need_more_than_the_last_mention():
    """Not answerable from one sentence: often the answer place is not in any sentence naming the
    object (two facts: holder, then the holder's place)."""
    g = torch.Generator().manual_seed(1)
    far = 0
    for _ in range(200):
        story, q, a = make_story("two-supporting-facts", 6, g)
        obj = q.split()[-2]
        far += not any(obj in s and a in s for s in story)
    assert far == 200  # a sentence names an object or a place, never both


@pytest.mark.parametrize("argv,needle", [
    (["train", "--model", "memn2n", "--task", "babi", "--set", "task.qa=path-finding", "task.train_min=1"],
     "world allows"),
    (["train", "--model", "memn2n", "--task", "babi", "--set", "task.qa=positional-reasoning", "task.test_max=9"],
     "world allows"),
    (["train", "--model", "memn2n", "--task", "babi", "--set", "model.hops=0"], "model.hops=0"),
    (["train", "--model", "kv-memn2n", "--task", "babi", "--set", "model.hops=-1"], "model.hops=-1"),
    (["run", "memn2n-babi", "--set", "sentences_min=0"], "sentences_min"),
    (["run", "captioning", "--set", "width=10", "digits_max=3"], "too small"),
])
def test_the_issue_errors_are_one_line_and_exit_2(argv, needle, capsys, tmp_path):
    from memlab.cli import main

    code = main([*argv, "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    lines = [l for l in err.strip().splitlines() if l]
    assert code == 2 and len(lines) == 1 and "Traceback" not in err, err
    assert needle in lines[0], lines[0]
