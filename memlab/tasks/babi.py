"""bAbI-style question answering (Weston et al. 2015) from a seeded world simulation.

A small world of people, places and objects is simulated event by event; each event is told as one
sentence and the question is answered from the simulated world state (never from a template):

    qa                         story events              question                                   answer
    single-supporting-fact     moves                     where is mary ?                            her place
    two-supporting-facts       moves, gets, drops        where is the apple ?                       holder's place / drop place
    three-supporting-facts     moves, gets, drops        where was the apple before the office ?    the place it left for the office
    counting                   moves, gets, drops        how many objects is mary carrying ?        none | one | two | three
    yes-no                     moves                     is mary in the kitchen ?                   yes | no
    lists-sets                 moves, gets, drops        what is mary carrying ?                    sorted objects | nothing
    positional-reasoning       shapes placed on a grid   is the red square left of the blue box ?   yes | no  (from coordinates)
    path-finding               places on a grid          how do you go from the den to the hall ?   two directions

A person can only pick up an object that nobody holds and that is unplaced or where the person is;
a dropped object stays where it was dropped. The length parameter k is the number of story
sentences. Every word is one token (``WORDS``; ``.`` = 0 ends a sentence, ``?`` = 1 ends the question),
laid out in the seed-004 protocol of ``SymbolicTask``::

    input:   <s> mary went to the kitchen . where is mary ? </s> </s>
    target:                                                 kitchen <e>

``dataset(split, n)`` gives the fixed 1k / 10k training sets and a test set disjoint from them
(same seed -> same stories); ``sample`` draws fresh stories from the generator it is given.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import torch
from torch import Tensor

from memlab.core.errors import ConfigError, check_choice
from memlab.tasks.base import SymbolicTask, TaskConfig

PEOPLE = ("mary", "john", "sandra", "daniel")
PLACES = ("kitchen", "garden", "office", "hallway", "bathroom", "bedroom")
OBJECTS = ("apple", "football", "milk")
MOVE = ("went to", "journeyed to", "travelled to", "moved to")
GET = ("got", "picked up", "grabbed")
DROP = ("dropped", "discarded", "put down")
COUNTS = ("none", "one", "two", "three")
COLOURS = ("red", "blue", "pink", "yellow", "green")
SHAPES = ("square", "triangle", "rectangle", "sphere", "box")
RELATIONS = {"left of": (-1, 0), "right of": (1, 0), "above": (0, 1), "below": (0, -1)}
DIRECTIONS = {"north": (0, 1), "south": (0, -1), "east": (1, 0), "west": (-1, 0)}

_PHRASES = MOVE + GET + DROP + tuple(RELATIONS) + (
    "the is a where was before how many objects carrying what in do you go from yes no nothing of",)
WORDS: tuple[str, ...] = tuple(dict.fromkeys(
    (".", "?") + PEOPLE + PLACES + OBJECTS + COUNTS + COLOURS + SHAPES + tuple(DIRECTIONS)
    + tuple(w for p in _PHRASES for w in p.split())))
INDEX = {w: i for i, w in enumerate(WORDS)}

#: qa name -> (smallest, largest) story length k the world allows
QA: dict[str, tuple[int, int]] = {
    "single-supporting-fact": (1, 200), "two-supporting-facts": (2, 200), "three-supporting-facts": (3, 200),
    "counting": (1, 200), "yes-no": (1, 200), "lists-sets": (1, 200),
    "positional-reasoning": (1, len(SHAPES) - 1), "path-finding": (2, len(PLACES) - 1),
}
#: default train/test story lengths per qa
DEFAULT_LENGTHS = {"positional-reasoning": (1, 4), "path-finding": (2, 5)}
MAX_TRIES = 500


def encode(text: str) -> Tensor:
    """Words -> token ids (L,); ConfigError for a word outside ``WORDS``."""
    words = text.replace(".", " .").replace("?", " ?").split()
    bad = [w for w in words if w not in INDEX]
    if bad:
        raise ConfigError(f"word {bad[0]!r} is not in the babi vocabulary")
    return torch.tensor([INDEX[w] for w in words], dtype=torch.long)


def decode(tokens: Tensor) -> str:
    """Token ids -> text (markers outside ``WORDS`` shown as ``_``)."""
    return " ".join(WORDS[t] if 0 <= t < len(WORDS) else "_" for t in tokens.tolist())


class Rng:
    """Draws from a torch.Generator (so a story depends only on the generator's state)."""

    def __init__(self, generator: torch.Generator):
        self.g = generator

    def int(self, n: int) -> int:
        return int(torch.randint(0, n, (1,), generator=self.g))

    def choice(self, xs):
        xs = list(xs)
        return xs[self.int(len(xs))]


# --------------------------------------------------------------------------- the people/objects world


class World:
    """State of the people/objects world: where each person is, who holds what, where objects are."""

    def __init__(self) -> None:
        self.person_at: dict[str, str] = {}
        self.holder: dict[str, str] = {}  # object -> person
        self.object_at: dict[str, str] = {}  # object -> place (while held: the holder's place)
        self.history: dict[str, list[str]] = {o: [] for o in OBJECTS}  # object -> places in order
        self.handlers: set[str] = set()  # people who ever picked something up

    def carrying(self, person: str) -> list[str]:
        return sorted(o for o, p in self.holder.items() if p == person)

    def _place_object(self, o: str, place: str) -> None:
        self.object_at[o] = place
        if not self.history[o] or self.history[o][-1] != place:
            self.history[o].append(place)

    def apply(self, event: tuple[str, str, str]) -> None:
        """event = (kind, person, place_or_object), kind in move | get | drop; checks it is possible."""
        kind, person, what = event
        if kind == "move":
            self.person_at[person] = what
            for o in self.carrying(person):
                self._place_object(o, what)
        elif kind == "get":
            here = self.person_at.get(person)
            if here is None or what in self.holder or self.object_at.get(what, here) != here:
                raise ValueError(f"{person} cannot get the {what}")
            self.holder[what] = person
            self.handlers.add(person)
            self._place_object(what, here)
        elif kind == "drop":
            if self.holder.get(what) != person:
                raise ValueError(f"{person} does not hold the {what}")
            del self.holder[what]
        else:
            raise ValueError(f"unknown event {kind!r}")

    def possible(self, kinds: tuple[str, ...]) -> list[tuple[str, str, str]]:
        out = []
        for p in PEOPLE:
            if "move" in kinds:
                out += [("move", p, place) for place in PLACES if place != self.person_at.get(p)]
            here = self.person_at.get(p)
            if "get" in kinds and here is not None:
                out += [("get", p, o) for o in OBJECTS if o not in self.holder and self.object_at.get(o, here) == here]
            if "drop" in kinds:
                out += [("drop", p, o) for o in self.carrying(p)]
        return out


def tell(event: tuple[str, str, str], rng: Rng) -> str:
    kind, person, what = event
    verb = rng.choice({"move": MOVE, "get": GET, "drop": DROP}[kind])
    return f"{person} {verb} the {what} ."


def world_question(qa: str, world: World, rng: Rng) -> tuple[str, str] | None:
    """(question, answer) about ``world`` for ``qa``, or None when the world holds no such question."""
    if qa in ("single-supporting-fact", "yes-no", "counting", "lists-sets"):
        people = sorted(world.person_at)
        if not people:
            return None
        if qa in ("counting", "lists-sets") and world.handlers:
            people = sorted(world.handlers)  # ask about someone who handled objects (fewer trivial "none")
        p = rng.choice(people)
        if qa == "single-supporting-fact":
            return f"where is {p} ?", world.person_at[p]
        if qa == "yes-no":
            place = world.person_at[p] if rng.int(2) else rng.choice(x for x in PLACES if x != world.person_at[p])
            return f"is {p} in the {place} ?", "yes" if world.person_at[p] == place else "no"
        held = world.carrying(p)
        if qa == "counting":
            return f"how many objects is {p} carrying ?", COUNTS[len(held)]
        return f"what is {p} carrying ?", " ".join(held) or "nothing"
    placed = sorted(world.object_at)
    if qa == "two-supporting-facts":
        return (f"where is the {(o := rng.choice(placed))} ?", world.object_at[o]) if placed else None
    # three supporting facts: a place the object reached exactly once, not first
    asks = [(o, i) for o in placed for i in range(1, len(world.history[o]))
            if world.history[o].count(world.history[o][i]) == 1]
    if not asks:
        return None
    o, i = rng.choice(asks)
    return f"where was the {o} before the {world.history[o][i]} ?", world.history[o][i - 1]


EVENT_KINDS = {"single-supporting-fact": ("move",), "yes-no": ("move",)}


def world_story(qa: str, k: int, rng: Rng) -> tuple[list[str], str, str]:
    """k sentences of a simulated world, a question and its answer (rejection until answerable)."""
    kinds = EVENT_KINDS.get(qa, ("move", "get", "drop"))
    for _ in range(MAX_TRIES):
        world, story = World(), []
        for _ in range(k):
            options = world.possible(kinds)
            # people move half the time, so objects travel (three supporting facts needs it)
            moves = [e for e in options if e[0] == "move"]
            e = rng.choice(moves if moves and (len(moves) == len(options) or rng.int(2)) else
                           [e for e in options if e[0] != "move"])
            world.apply(e)
            story.append(tell(e, rng))
        qa_pair = world_question(qa, world, rng)
        if qa_pair is not None:
            return story, *qa_pair
    raise ConfigError(f"babi {qa}: no answerable story of {k} sentences found in {MAX_TRIES} tries; use longer stories")


# --------------------------------------------------------------------------- grid worlds


def grid_layout(n: int, rng: Rng) -> tuple[list[tuple[int, int]], list[tuple[int, int, tuple[int, int]]]]:
    """n cells forming a random tree of grid neighbours: coordinates and (child, parent, step) edges."""
    cells, edges = [(0, 0)], []
    while len(cells) < n:
        parent = rng.int(len(cells))
        step = rng.choice(list(DIRECTIONS.values()))
        cell = (cells[parent][0] + step[0], cells[parent][1] + step[1])
        if cell not in cells:
            edges.append((len(cells), parent, step))
            cells.append(cell)
    return cells, edges


def positional_story(k: int, rng: Rng) -> tuple[list[str], str, str]:
    """k relation facts between k + 1 shapes on a grid; a yes/no question read off the coordinates."""
    names = [f"{c} {s}" for c, s in zip(_shuffled(COLOURS, rng), _shuffled(SHAPES, rng))][: k + 1]
    cells, edges = grid_layout(k + 1, rng)
    rel_of = {v: r for r, v in RELATIONS.items()}
    story = [f"the {names[a]} is {rel_of[step]} the {names[b]} ." for a, b, step in edges]
    story = [story[i] for i in _shuffled(range(len(story)), rng)]
    # the answer is drawn first (yes or no, evenly), then a question with that answer: drawing the
    # pair and the relation at random would answer "no" about 70% of the time (two shapes on one
    # row are neither above nor below each other), so a constant guess would score 0.7
    by_answer: dict[bool, list[tuple[int, int, str]]] = {True: [], False: []}
    for a in range(k + 1):
        for b in range(k + 1):
            for rel, step in RELATIONS.items():
                if a != b:
                    axis = 0 if step[0] else 1
                    by_answer[(cells[a][axis] - cells[b][axis]) * step[axis] > 0].append((a, b, rel))
    yes = bool(rng.int(2))  # both lists are non-empty: a fact's own relation is true, its opposite false
    a, b, rel = rng.choice(by_answer[yes])
    return story, f"is the {names[a]} {rel} the {names[b]} ?", "yes" if yes else "no"


def path_story(k: int, rng: Rng) -> tuple[list[str], str, str]:
    """k 'the A is north of the B' facts over k + 1 places; the two steps between two places 2 apart."""
    places = _shuffled(PLACES, rng)[: k + 1]
    dir_of = {v: d for d, v in DIRECTIONS.items()}
    for _ in range(MAX_TRIES):
        cells, edges = grid_layout(k + 1, rng)
        at = {c: i for i, c in enumerate(cells)}
        pairs = []  # (from, to, [d1, d2]) with the middle cell known and the endpoints not adjacent
        for i, c in enumerate(cells):
            for d1, s1 in DIRECTIONS.items():
                mid = (c[0] + s1[0], c[1] + s1[1])
                for d2, s2 in DIRECTIONS.items():
                    end = (mid[0] + s2[0], mid[1] + s2[1])
                    if mid in at and end in at and end != c and _linked(at[c], at[mid], edges) \
                            and _linked(at[mid], at[end], edges) and not _linked(i, at[end], edges):
                        pairs.append((i, at[end], f"{d1} {d2}"))
        if pairs:
            break
    else:
        raise ConfigError(f"babi path-finding: no two-step path among {k + 1} places; use k >= 2")
    story = [f"the {places[a]} is {dir_of[step]} of the {places[b]} ." for a, b, step in edges]
    story = [story[i] for i in _shuffled(range(len(story)), rng)]
    src, dst, answer = rng.choice(pairs)
    return story, f"how do you go from the {places[src]} to the {places[dst]} ?", answer


def _linked(a: int, b: int, edges) -> bool:
    return any({a, b} == {x, y} for x, y, _ in edges)


def _shuffled(xs, rng: Rng) -> list:
    xs = list(xs)
    for i in range(len(xs) - 1, 0, -1):
        j = rng.int(i + 1)
        xs[i], xs[j] = xs[j], xs[i]
    return xs


def make_story(qa: str, k: int, generator: torch.Generator) -> tuple[list[str], str, str]:
    """(sentences, question, answer) of one ``qa`` story with k sentences."""
    rng = Rng(generator)
    if qa == "positional-reasoning":
        return positional_story(k, rng)
    if qa == "path-finding":
        return path_story(k, rng)
    return world_story(qa, k, rng)


# --------------------------------------------------------------------------- the task


@dataclass
class BabiConfig(TaskConfig):
    """``qa``: which question family; lengths = story sentences (0 = the qa's default range)."""

    qa: str = "single-supporting-fact"
    train_min: int = 0
    train_max: int = 0
    test_min: int = 0
    test_max: int = 0

    def validate(self) -> None:
        check_choice("task.qa", self.qa, QA)
        lo, hi = QA[self.qa]
        d_lo, d_hi = DEFAULT_LENGTHS.get(self.qa, (2, 10))
        for name, default in (("train_min", d_lo), ("train_max", d_hi), ("test_min", d_lo), ("test_max", d_hi)):
            if getattr(self, name) == 0:
                setattr(self, name, max(lo, default))
        super().validate()
        for name in ("train_min", "train_max", "test_min", "test_max"):
            v = getattr(self, name)
            if not lo <= v <= hi:
                raise ConfigError(f"task.{name}={v} is impossible for babi {self.qa}: the world allows "
                                  f"{lo} <= sentences <= {hi}")


class Babi(SymbolicTask):
    """bAbI-style QA: stories from a simulated world, 8 question families (task.qa)."""

    name = "babi"
    Config = BabiConfig
    vocab = len(WORDS)

    def __init__(self, cfg: BabiConfig | dict | None = None):
        if isinstance(cfg, BabiConfig):
            cfg.validate()  # resolves the 0 = default lengths
        super().__init__({} if cfg is None else cfg)

    def check_lengths(self, lengths: Tensor) -> None:
        super().check_lengths(lengths)
        lo, hi = QA[self.cfg.qa]
        if lengths.numel() and not (lo <= int(lengths.min()) and int(lengths.max()) <= hi):
            bad = int(lengths.min()) if int(lengths.min()) < lo else int(lengths.max())
            raise ConfigError(f"babi {self.cfg.qa}: {bad} sentences is impossible; the world allows {lo}..{hi}")

    def max_steps(self, k: int) -> int:
        return 8 * k + 16

    def make_pairs(self, lengths: Tensor, generator: torch.Generator) -> list[tuple[Tensor, Tensor]]:
        out = []
        for k in lengths.tolist():
            story, question, answer = make_story(self.cfg.qa, k, generator)
            out.append((encode(" ".join(story + [question])), encode(answer)))
        return out

    def dataset(self, split: str, n: int, seed: int = 0, exclude: set[tuple[int, ...]] | None = None):
        """``n`` fixed examples of ``split`` ("train" over the train lengths, "test" over the test
        lengths) as (input, answer) token pairs; same seed -> same examples. Inputs in ``exclude``
        (e.g. the training inputs) are skipped, so a test set is disjoint from its training set."""
        check_choice("split", split, ("train", "test"))
        g = torch.Generator().manual_seed(zlib.crc32(f"{self.cfg.qa}/{split}/{seed}".encode()))
        lo, hi = self.train_range if split == "train" else self.test_range
        out: list[tuple[Tensor, Tensor]] = []
        for _ in range(20 * n + 100):
            if len(out) == n:
                return out
            x, y = self.make_pairs(self.sample_lengths(1, lo, hi, g), g)[0]
            if exclude is None or tuple(x.tolist()) not in exclude:
                out.append((x, y))
        raise ConfigError(f"babi {self.cfg.qa}: only {len(out)} distinct {split} stories of {lo}..{hi} sentences "
                          f"outside the training set; ask for fewer than {n} or longer stories")
