"""The regopy (rego-cpp) boundary: interpreters, compilation, queries and readable errors.

Everything that touches regopy goes through here, because its Python layer has sharp edges that
the rest of the package must not meet:

- rego-cpp holds a string as its JSON-escaped text, and `Input(...)` hands strings over as they
  are, so a raw quote or newline later yields invalid JSON output. `set_input_value` escapes
  every string (and key) exactly as the JSON term parser would have kept it, and builds the input
  node by node: a third cheaper than parsing the JSON text with `set_input_term`.
- `str(output)` on a failed query crashes the process; the error is read from the interpreter.
- errors arrive as s-expressions with byte offsets; `describe` turns them into `file:line:col: msg`.
- the default log level prints parse errors to stdout; interpreters here are silent.

rego-cpp documents no thread-safety and ctypes releases the GIL, so an interpreter must be used by
one thread at a time: callers hold a lock (see embedded.py). This module keeps no state.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from regopy import Bundle, Input, Interpreter, LogLevel, NodeKind, RegoError
from regopy.rego_shared import (
    rego_get_error,
    rego_node_get,
    rego_node_size,
    rego_node_type,
    rego_node_value,
    rego_output_node,
)

from lockstep.policy.bundle import PolicyBundle


class RegoFailure(Exception):
    """rego-cpp refused a module, a build or a query; the message is readable as it stands."""


class _Undefined:
    def __repr__(self) -> str:
        return "UNDEFINED"


UNDEFINED: Any = _Undefined()

_ERROR = re.compile(r"\(error (\d+):")
_ERRORMSG = re.compile(r"\(errormsg (\d+):")


def _length_prefixed(text: str, match: re.Match[str]) -> tuple[str, int]:
    start = match.end()
    end = start + int(match.group(1))
    return text[start:end], end


def describe(error: str, sources: Mapping[str, str], root: str = "") -> str:
    """`(rego-errorseq (error 8:bad.rego|28|1 (errormsg …)))` -> `bad.rego:2:19: …` (one line)."""
    messages: list[str] = []
    pos = 0
    while (m := _ERROR.search(error, pos)) is not None:
        name, pos = _length_prefixed(error, m)
        where = f"{root}/{name}" if root and name in sources else name
        loc = re.match(r"\|(\d+)\|\d+", error[pos:])
        if loc and name in sources:
            before = sources[name].encode("utf-8")[: int(loc.group(1))].decode("utf-8", "replace")
            column = len(before) - (before.rfind("\n") + 1) + 1
            where += f":{before.count(chr(10)) + 1}:{column}"
        mm = _ERRORMSG.search(error, pos)
        text = _length_prefixed(error, mm)[0] if mm else "error"
        messages.append(f"{where}: {text}")
    if not messages:
        return " ".join(error.split())[:500]
    return "; ".join(dict.fromkeys(messages))


def interpreter() -> Interpreter:
    rego = Interpreter()
    rego.log_level = LogLevel.NONE
    return rego


def load(rego: Interpreter, bundle: PolicyBundle, modules: Mapping[str, str]) -> None:
    """Add `modules` (relative path -> source) and the bundle's data to an interpreter."""
    for rel, source in modules.items():
        try:
            rego.add_module(rel, source)
        except RegoError as e:
            raise RegoFailure(describe(str(e), modules, str(bundle.root))) from None
    try:
        rego.add_data_json(json.dumps(bundle.data))
    except RegoError as e:
        raise RegoFailure(f"{bundle.root}: data rejected: {describe(str(e), {})}") from None


def build(rego: Interpreter, entrypoints: Sequence[str], sources: Mapping[str, str], root: str) -> Bundle:
    """Compile the loaded modules once for the given entrypoints (`lockstep/deploy`)."""
    try:
        compiled = rego.build(None, list(entrypoints))
    except RegoError as e:
        raise RegoFailure(describe(str(e), sources, root)) from None
    if not compiled.ok():
        raise RegoFailure(f"{root}: the bundle did not compile")
    return compiled


def _output_errors(output: Any) -> str:
    """The messages of a failed output's error nodes (`error (errormsg …) (errorast …) (errorcode …)`)."""
    messages: list[str] = []
    seq = rego_output_node(output._impl)
    for i in range(rego_node_size(seq)):
        error = rego_node_get(seq, i)
        parts = [rego_node_get(error, j) for j in range(rego_node_size(error))]
        texts = [rego_node_value(p) for p in parts if rego_node_type(p) == NodeKind.ErrorMessage]
        codes = [rego_node_value(p) for p in parts if rego_node_type(p) == NodeKind.ErrorCode]
        messages.append(" ".join(texts) + (f" ({codes[0]})" if codes else ""))
    return "; ".join(dict.fromkeys(m for m in messages if m.strip()))


def _value(rego: Interpreter, output: Any) -> Any:
    if not output.ok():
        detail = _output_errors(output) or describe(rego_get_error(rego._impl), {})
        raise RegoFailure(detail or "evaluation failed (rego-cpp gave no detail)")
    results = output.results
    if not results or not results[0].expressions:
        return UNDEFINED
    return results[0].expressions[0]


_NEEDS_ESCAPE = re.compile(r'["\\\x00-\x1f\x7f\u2028\u2029]')


def _as_term_text(value: Any) -> Any:
    """`value` with every string as the JSON term parser keeps it: escaped, without its quotes."""
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)[1:-1] if _NEEDS_ESCAPE.search(value) else value
    if isinstance(value, Mapping):  # in key order, as the canonical JSON text has them
        return {_as_term_text(k): _as_term_text(v) for k, v in sorted(value.items())}
    if isinstance(value, list | tuple):
        return [_as_term_text(v) for v in value]
    if value is None or isinstance(value, bool | int | float):
        return value
    raise TypeError(f"not a JSON value: {type(value).__name__}")


_INT64 = range(-(2**63), 2**63)


def fits_input_nodes(value: Any) -> bool:
    """Whether `value` passes through `Input` unchanged: string keys; strings, booleans, null and
    64-bit integers. Floats (rounded by the binding) and bigger integers (wrapped) do not."""
    if value is None or isinstance(value, str | bool):
        return True
    if isinstance(value, int):
        return value in _INT64
    if isinstance(value, Mapping):
        return all(isinstance(k, str) and fits_input_nodes(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return all(fits_input_nodes(v) for v in value)
    return False


def set_input_value(rego: Interpreter, value: Mapping[str, Any]) -> None:
    """Make `value` the input of the next queries; only for values that `fits_input_nodes`."""
    try:
        rego.set_input(Input(_as_term_text(value)))
    except RegoError as e:
        raise RegoFailure(describe(str(e), {})) from None
    except Exception as e:  # ctypes' own errors (e.g. a lone surrogate): fail, never pass a half input
        raise RegoFailure(f"cannot pass the input: {e!r}") from None


def query_entrypoint(rego: Interpreter, compiled: Bundle, entrypoint: str, input_json: str | None) -> Any:
    """Evaluate a compiled entrypoint against a JSON input (None: keep the last one set);
    `UNDEFINED` when it has no value."""
    try:
        if input_json is not None:
            rego.set_input_term(input_json)
        return _value(rego, rego.query_bundle_entrypoint(compiled, entrypoint))
    except RegoError as e:
        raise RegoFailure(describe(str(e), {})) from None
    except ValueError as e:  # regopy's own JSON decoding of the output
        raise RegoFailure(f"unreadable result: {e}") from None


def query(rego: Interpreter, text: str) -> Any:
    """Evaluate one ad-hoc query (`data.pkg.rule`) over the loaded modules and data."""
    try:
        return _value(rego, rego.query(text))
    except RegoError as e:
        raise RegoFailure(describe(str(e), {})) from None
    except ValueError as e:
        raise RegoFailure(f"unreadable result: {e}") from None
