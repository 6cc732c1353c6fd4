"""Shared helpers for the widget tests: an HTML reader and a fake translator whose every
word is an injection attempt. Nothing here reads the corpus; every sentence is invented."""
from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser

import numpy as np

from attention_course.search.record import Candidate, Hypothesis, StepRecord
from attention_course.translator import Translation

# Strings a reader might type (or a model might echo back) that must stay text.
PAYLOADS = [
    "<img src=x onerror=alert(1)>",
    "</script><script>alert(1)</script>",
    "\"'&",
    "<!--",
    "&lt;b&gt;",
    "</style><b>bold</b>",
    "\u2028line\u2029sep",
]
# The elements and attributes our renderers may produce, nothing else.
ALLOWED_TAGS = {"style", "div", "span", "table", "thead", "tbody", "tr", "td", "th"}
ALLOWED_ATTRS = {"class", "style"}


@dataclass
class Node:
    tag: str
    attrs: dict
    children: list = field(default_factory=list)   # Node or str
    parent: "Node | None" = None

    @property
    def classes(self) -> set[str]:
        return set((self.attrs.get("class") or "").split())

    @property
    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text for c in self.children)

    def iter(self):
        yield self
        for c in self.children:
            if isinstance(c, Node):
                yield from c.iter()

    def find_all(self, cls: str | None = None, tag: str | None = None) -> list["Node"]:
        return [n for n in self.iter() if (cls is None or cls in n.classes) and (tag is None or n.tag == tag)]

    def find(self, cls: str | None = None, tag: str | None = None) -> "Node | None":
        found = self.find_all(cls, tag)
        return found[0] if found else None


VOID = {"br", "img", "input", "meta", "link", "hr", "wbr", "source", "area", "base", "col", "embed"}


class _Tree(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = Node("#root", {})
        self.cur = self.root
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        node = Node(tag, dict(attrs), parent=self.cur)
        self.tags.append((tag, dict(attrs)))
        self.cur.children.append(node)
        if tag not in VOID:
            self.cur = node

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self.cur.children.append(Node(tag, dict(attrs), parent=self.cur))

    def handle_endtag(self, tag):
        node = self.cur
        while node is not self.root and node.tag != tag:
            node = node.parent
        if node is self.root:
            raise AssertionError(f"stray </{tag}>")
        self.cur = node.parent

    def handle_data(self, data):
        self.cur.children.append(data)

    def handle_comment(self, data):
        raise AssertionError(f"an HTML comment in widget output: {data[:60]!r}")


def parse(html: str) -> tuple[Node, list[tuple[str, dict]]]:
    """The element tree of ``html`` and the list of every start tag in it."""
    tree = _Tree()
    tree.feed(html)
    tree.close()
    assert tree.cur is tree.root, f"unclosed <{tree.cur.tag}>"
    return tree.root, tree.tags


def assert_only_our_markup(html: str) -> Node:
    """Every tag and attribute in ``html`` is one our renderers write; returns the tree."""
    root, tags = parse(html)
    for tag, attrs in tags:
        assert tag in ALLOWED_TAGS, f"unexpected <{tag}> in widget HTML"
        assert set(attrs) <= ALLOWED_ATTRS, f"unexpected attributes {set(attrs) - ALLOWED_ATTRS} on <{tag}>"
    return root


def shown_step(html: str) -> dict:
    """What a rendered step shows, read back from its HTML (see widgets/render.py)."""
    root = assert_only_our_markup(html)
    step = root.find("ac-step")
    assert step is not None, "no .ac-step in the HTML"
    words = step.find("ac-src").find_all("ac-word")
    focus = [j for j, w in enumerate(words) if "ac-focus" in w.classes]
    prefix_box = step.find("ac-prefix")
    nxt = prefix_box.find("ac-new")
    beams = step.find("ac-beams")
    cands = step.find("ac-cands")
    return {
        "source": [w.find("ac-tok").text for w in words],
        "weights": [w.find("ac-w").text for w in words],
        "focus": focus[0] if focus else None,
        "n_focus": len(focus),
        "prefix": [t.text for t in prefix_box.find_all("ac-tok")],
        "next": nxt.text if nxt else None,
        "topk": [r.find("ac-tok").text for r in step.find("ac-topk").find_all(tag="tr")],
        "picked": [r.find("ac-tok").text for r in step.find("ac-topk").find_all(tag="tr") if "ac-pick" in r.classes],
        "beams": [[td.text for td in r.find_all(tag="td")] for r in beams.find_all(tag="tr")[1:]] if beams else [],
        "cands": [([td.text for td in r.find_all(tag="td")], r.attrs.get("class")) for r in cands.find_all(tag="tr")[1:]]
        if cands else [],
        "done": step.find("ac-out").text if step.find("ac-out") else None,
        "label": step.find("ac-steplabel").text,
        "all_text": step.text,
    }


def beam_next(step) -> str | None:
    """The word a beam step adds to the best hypothesis: its best extension the beam keeps
    (what "French so far" shows next to the prefix, as greedy shows the word it picks)."""
    kept = sorted((c for c in step.candidates if c.parent == 0 and c.status != "pruned"), key=lambda c: -c.score)
    return kept[0].tokens[-1] if kept else None


def fake_translation(text: str, beam_size: int = 1, top_k: int = 5) -> Translation:
    """A decode whose source words are the payloads plus ``text`` itself, as single tokens,
    and whose French words, top-k words and beam hypotheses are payloads too."""
    source = PAYLOADS + [text]
    target = list(PAYLOADS)
    n_src = len(source)
    steps = []
    for t in range(len(target) + 1):
        prefix = target[:t]
        att = np.full(n_src, 0.2 / (n_src - 1))
        att[t % n_src] = 0.8
        top = [(w, 0.5 / (i + 1)) for i, w in enumerate((PAYLOADS + [text])[:top_k])]
        k = beam_size
        hyps = [Hypothesis(list(prefix) if i == 0 else list(prefix[:-1]) + [PAYLOADS[i % len(PAYLOADS)]],
                           -float(t + i), att.tolist(), top) for i in range(k)]
        if t == 0:
            hyps = hyps[:1]
        nxt = target[t] if t < len(target) else "</s>"
        cands = []
        if beam_size > 1:
            for i, h in enumerate(hyps):
                for j, w in enumerate([nxt, text, PAYLOADS[(t + 1) % len(PAYLOADS)]]):
                    status = "finished" if w == "</s>" else ("alive" if j == 0 or i == 0 and j == 1 else "pruned")
                    cands.append(Candidate(h.tokens + [w], -float(t + i + j + 1), i, status))
        steps.append(StepRecord(t, hyps, prefix + [nxt], cands))
    attn = np.stack([np.asarray(s.hypotheses[0].attention) for s in steps[:-1]])
    return Translation(" ".join(target), source, target, attn, steps, -3.0, list(target))


class FakeTranslator:
    """Stands in for a shipped model; counts its calls."""

    has_attention = True

    def __init__(self, name: str = "fake"):
        self.name = name
        self.calls = 0

    def translate(self, text, beam_size=1, top_k=5, **kwargs):
        self.calls += 1
        from attention_course.translator import check_beam, check_text
        check_text(text)
        check_beam(beam_size)
        return fake_translation(text, beam_size, top_k)


class CountingLoader:
    """Wraps a loader (e.g. ``pretrained.load``) and counts ``translate`` calls per model."""

    def __init__(self, load):
        self._load = load
        self.calls: list[tuple] = []

    def __call__(self, name):
        translator = self._load(name)
        outer = self

        class Counted:
            has_attention = translator.has_attention

            def translate(self, text, beam_size=1, **kwargs):
                outer.calls.append((name, text, beam_size))
                return translator.translate(text, beam_size=beam_size, **kwargs)

            def __getattr__(self, attr):      # the model and vocabularies (a Transformer's heads)
                return getattr(translator, attr)

        return Counted()
