"""Hypothesis strategies for YAML text that PyYAML finds hard: anchors and aliases (to missing,
recursive and repeated anchors), explicit tags its constructors choke on, deep nesting, huge
scalars, and valid documents mutated with YAML's own punctuation."""

from __future__ import annotations

from typing import Any

import yaml
from hypothesis import strategies as st

ANCHORS = ["a", "b", "c"]
TAGS = [
    "!!int", "!!float", "!!bool", "!!null", "!!str", "!!timestamp", "!!binary", "!!set", "!!omap",
    "!!pairs", "!!seq", "!!map", "!!merge", "!!value", "!custom", "!!python/object:os.system",
]  # fmt: skip
WORDS = st.sampled_from(
    [
        "x", "lol", "0", "-1", "1e9999", "0x1F", "0o17", "1_000", ".inf", ".nan", "~", "null", "yes",
        "2001-12-14", "2001-13-45", "2001-02-30t25:61:61.1-25:99", "12:30:45", "=", "<<", "''",
        '"\\x00"', '"\\uD800"', '"\\N\\L"', "{{ replicas }}", "{{", "}}",
    ]
)  # fmt: skip
TOKENS = st.sampled_from(
    [
        "&a ", "&b ", "*a", "*b", "*c", "<<: *a", "<<: [*a, *b]", "!!int ", "!!timestamp ", "!!binary ",
        "!!set ", "!!omap ", "!!python/name:os.system ", "[", "]", "{", "}", ", ", ": ", "- ", "? ",
        "---\n", "...\n", "\n", "\t", "  ", "%YAML 1.1\n", "%TAG ! tag:x,2000:\n", "#", "|\n", ">-\n",
        "'", '"', "\\", "\x00", "\ufeff", "\x85", "9" * 5000,
    ]
)  # fmt: skip


def _scalar() -> st.SearchStrategy[str]:
    long = st.integers(1, 4).map(lambda n: "9" * (n * 1500))  # past int()'s 4300 digits at 3+
    tagged = st.tuples(st.sampled_from(TAGS), WORDS).map(lambda t: f"{t[0]} {t[1]}")
    return st.one_of(WORDS, long, tagged, st.sampled_from(ANCHORS).map(lambda a: f"*{a}"))


def _anchored(node: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    prefix = st.one_of(st.just(""), st.sampled_from(ANCHORS).map(lambda a: f"&{a} "))
    return st.tuples(prefix, node).map("".join)


def flow_nodes(max_leaves: int = 30) -> st.SearchStrategy[str]:
    """A flow-style YAML node: scalars, aliases and tags in lists and mappings, anchors anywhere."""

    def extend(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        seq = st.lists(children, max_size=4).map(lambda xs: "[" + ", ".join(xs) + "]")
        pairs = st.lists(st.tuples(st.one_of(WORDS, st.just("<<")), children), max_size=4)
        mapping = pairs.map(lambda ps: "{" + ", ".join(f"{k}: {v}" for k, v in ps) + "}")
        return _anchored(st.one_of(seq, mapping))

    return st.recursive(_anchored(_scalar()), extend, max_leaves=max_leaves)


def documents() -> st.SearchStrategy[str]:
    """Whole YAML texts: flow nodes under keys, alias bombs, deep nesting, several documents."""
    keyed = st.lists(st.tuples(WORDS, flow_nodes()), min_size=1, max_size=5).map(
        lambda ps: "".join(f"{k}: {v}\n" for k, v in ps)
    )
    # PyYAML's scanner is quadratic in flow nesting (up to its own limit of 1000), so flow depth
    # stays small here; 5,000 levels of each kind are in tests/manifest/test_bounds.py.
    flow_deep = st.tuples(st.integers(90, 200), st.sampled_from(["[", "{k: "])).map(
        lambda t: "x: " + t[1] * t[0] + "v" + ("]" if t[1] == "[" else "}") * t[0]
    )
    block_deep = st.integers(90, 3000).map(lambda n: "x:\n" + "- " * n + "v\n")
    bomb = st.tuples(st.integers(2, 9), st.integers(2, 12)).map(lambda t: _bomb(*t))
    several = st.lists(keyed, min_size=2, max_size=3).map("---\n".join)
    return st.one_of(keyed, flow_deep, block_deep, bomb, several)


def mutated(base: str) -> st.SearchStrategy[str]:
    """`base` with YAML punctuation inserted, spans deleted or lines repeated."""

    @st.composite
    def mutate(draw: st.DrawFn) -> str:
        text = base
        for _ in range(draw(st.integers(1, 6))):
            at = draw(st.integers(0, len(text)))
            action = draw(st.sampled_from(["insert", "delete", "repeat"]))
            if action == "insert":
                text = text[:at] + draw(TOKENS) + text[at:]
            elif action == "delete":
                text = text[:at] + text[at + draw(st.integers(1, 40)) :]
            else:
                end = text.find("\n", at)
                line = text[at : end + 1] if end >= 0 else text[at:]
                text = text[:at] + line * draw(st.integers(2, 50)) + text[at:]
        return text

    return mutate()


def dumped(data: Any) -> str:
    return yaml.safe_dump(data, sort_keys=False)


def _bomb(levels: int, width: int) -> str:
    lines = ["a0: &a0 [" + ", ".join(["lol"] * width) + "]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * width)}]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"
