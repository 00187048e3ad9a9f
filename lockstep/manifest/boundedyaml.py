"""A PyYAML SafeLoader that refuses documents too deep or too large before building anything.

Owns the two ways a small YAML file becomes unbounded work. Nesting: PyYAML composes and
constructs recursively, so a few thousand levels of `[[[...` end in RecursionError. Aliases: an
alias is a shared reference to its anchor's node, so `a1: [*a0, *a0, ...]` repeated a few times
is cheap to parse and enormous for whatever walks the result (validation, hashing, JSON for the
API server). While the parser's events are composed into nodes, this loader measures each node
as it would be with every alias expanded — nodes, scalar characters and height — and stops at the
first that passes `lockstep.domain.limits`, before any Python object exists. An alias costs the
size of its anchor's subtree, measured once, so the check is linear in the file, not in its
expansion. An alias to a collection that contains it (legal in PyYAML, endless when expanded)
is refused too.

Also turns the plain Python errors some SafeLoader constructors raise on odd scalars (`!!int x`,
a 5,000-digit integer, a timestamp in month 13) into ConstructorErrors with the line.

Deliberately does not: know manifests or Kubernetes (the loader names the file and document),
nor bound the file's size, which is checked before the text is read.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode

from lockstep.domain.limits import MAX_NESTING_DEPTH, YAML_MAX_NODES, YAML_MAX_TEXT_CHARS

KEY = "<key>"  # path label of a mapping key (rather than its value)
_Mark = Any  # yaml.error.Mark, or libyaml's in the stubs' view of an event


class YamlBoundExceeded(yaml.MarkedYAMLError):
    """A document past a bound; `path` is where (mapping keys and list indexes), `document` its
    1-based number in the stream."""

    def __init__(self, problem: str, mark: _Mark, path: list[int | str], document: int) -> None:
        super().__init__(problem=problem, problem_mark=mark)
        self.path = path
        self.document = document


@dataclass(frozen=True)
class _Expanded:
    nodes: int
    chars: int
    height: int


class BoundedSafeLoader(yaml.SafeLoader):
    """SafeLoader with the bounds above; counts are per stream (all documents of one file)."""

    max_depth = MAX_NESTING_DEPTH
    max_nodes = YAML_MAX_NODES
    max_chars = YAML_MAX_TEXT_CHARS

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._nodes = 0
        self._chars = 0
        self._path: list[int | str] = []
        self._heights: list[int] = []  # per open collection: the tallest child so far
        self._anchored: dict[int, _Expanded] = {}  # id(node) of each anchored node composed
        self._document = 0

    def compose_document(self) -> Node | None:
        self._document += 1
        self._anchored = {}  # anchors do not cross documents
        return super().compose_document()

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        self._path.append(_label(parent, index))
        try:
            if self.check_event(yaml.AliasEvent):
                return self._compose_alias(parent, index)
            return self._compose_own(parent, index)
        finally:
            self._path.pop()

    def construct_object(self, node: Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except (ValueError, TypeError, AttributeError, OverflowError, LookupError) as err:
            # Implicit and explicit scalar tags reach int(), float() and date() unguarded.
            raise yaml.constructor.ConstructorError(
                None, None, f"cannot read this value: {err}", node.start_mark
            ) from None

    # -- internals -------------------------------------------------------------------------------

    def _compose_alias(self, parent: Node | None, index: Any) -> Node | None:
        mark = self._next_event().start_mark
        node = super().compose_node(parent, index)
        expanded = self._anchored.get(id(node))
        if expanded is None:  # the anchor is still open: the alias is inside what it names
            raise self._refuse("an alias refers to a collection that contains it", mark)
        self._spend(expanded, mark)
        return node

    def _compose_own(self, parent: Node | None, index: Any) -> Node | None:
        event = self._next_event()
        if len(self._path) > self.max_depth:
            raise self._refuse(f"nested deeper than {self.max_depth} levels", event.start_mark)
        nodes, chars = self._nodes, self._chars
        self._heights.append(0)
        try:
            node = super().compose_node(parent, index)
        finally:
            height = self._heights.pop() + 1
        own_chars = len(node.value) if isinstance(node, ScalarNode) else 0
        self._spend(_Expanded(1, own_chars, height), event.start_mark)
        if isinstance(event, yaml.NodeEvent) and event.anchor is not None and node is not None:
            self._anchored[id(node)] = _Expanded(self._nodes - nodes, self._chars - chars, height)
        return node

    def _next_event(self) -> yaml.Event:
        event: yaml.Event = self.peek_event()  # type: ignore[no-untyped-call]  # untyped in the stubs
        return event

    def _spend(self, expanded: _Expanded, mark: _Mark) -> None:
        """Count a node (or an alias's whole subtree) in the stream's expanded size."""
        if len(self._path) - 1 + expanded.height > self.max_depth:
            raise self._refuse(f"an alias expands to nesting deeper than {self.max_depth} levels", mark)
        self._nodes += expanded.nodes
        self._chars += expanded.chars
        if self._nodes > self.max_nodes:
            raise self._refuse(
                f"with aliases expanded, more than {self.max_nodes:,} values (YAML aliases "
                "that expand without end?)",
                mark,
            )
        if self._chars > self.max_chars:
            raise self._refuse(
                f"with aliases expanded, more than {self.max_chars:,} characters of text", mark
            )
        if self._heights:
            self._heights[-1] = max(self._heights[-1], expanded.height)

    def _refuse(self, problem: str, mark: _Mark) -> YamlBoundExceeded:
        return YamlBoundExceeded(problem, mark, [p for p in self._path if p != ""], self._document)


def _label(parent: Node | None, index: Any) -> int | str:
    """How the path names the node being composed (PyYAML passes the list index, the mapping
    key's node for a value, None for a key and for the document's root)."""
    if isinstance(index, int):
        return index
    if isinstance(index, ScalarNode):
        return str(index.value)[:80]
    if isinstance(index, Node):
        return "<complex key>"
    return KEY if isinstance(parent, MappingNode) else ""
