"""Mutation testing of the course's core modules: a small, self-contained runner (no mutmut).

For each of nine core modules it makes single-point mutants from the module's syntax tree,
runs the unit tests mapped to that module against each mutant, and reports how many the tests
kill. A mutant that passes every mapped test "survives": either the tests miss a behaviour, or
the mutant is equivalent (it cannot change any result); equivalent survivors are listed, with the
reason, in ``benchmarks/mutation_equivalents.toml`` and left out of the score.

Run it from the repository root, niced and single-threaded. It is not part of CI: one pytest
process per mutant, 913 mutants, 25 minutes on two busy cores (2026-12-04)::

    nice -n 15 python benchmarks/mutation.py --json /tmp/mutation.json     # every module
    nice -n 15 python benchmarks/mutation.py search/beam.py data/split.py   # some modules (under lib/attention_course/)
    python benchmarks/mutation.py --list search/beam.py                     # only list the mutants
    nice -n 15 python benchmarks/mutation.py --since /tmp/mutation.json     # re-test only what survived then

Options: ``--jobs N`` (mutants tested at once, default 1), ``--timeout S`` (per mutant),
``--verbose`` (every mutant's outcome), ``--show-equivalent``, ``--json FILE`` (every outcome).

Mutations (one per mutant): comparison operators (``<`` ↔ ``<=``, ``>`` ↔ ``>=``, ``==`` ↔ ``!=``,
``in`` ↔ ``not in``, ``is`` ↔ ``is not``), arithmetic (``+`` ↔ ``-``, ``*`` ↔ ``/``, ``//`` → ``/``,
``%`` → ``//``, ``**`` → ``*``, ``&`` ↔ ``|``, also in augmented assignments), ``and`` ↔ ``or``,
dropping ``not`` / unary minus / ``~``, integer constants ± 1, float constants + 1, ``True`` ↔
``False``, ``min`` ↔ ``max`` (and ``minimum``/``maximum``, ``amax``/``amin``, ``any``/``all``),
a one-argument function call replaced by its argument (``self.dropout(x)`` → ``x``,
``torch.tanh(x)`` → ``x``), a method call replaced by its receiver (``memory.index_select(i)`` →
``memory``; not for conversions such as ``.tolist()``), slice bounds (dropped, or + 1), and
removed statements (expression statements, augmented assignments, assignments to a subscript,
re-assignments of a name already bound). Docstrings, annotations, default argument values,
f-strings, ``raise`` statements and ``__all__`` are never mutated; mutants whose source equals
the original's or an earlier mutant's are dropped.

How it runs: one coverage.py run of all mapped tests on the unmutated package (which must pass)
records which test functions execute which lines; each mutant then runs only the mapped test
functions that execute its statement (all of them when the statement also runs at import time
or in a fixture), fastest first, stopping at the first failure. A mutant no test executes
survives without a run. The tests run in a fork of a server process that imported torch,
pytest, its plugins and sacrebleu once, so a mutant costs its tests' time plus about a second.

Safety: the repository's files are only read. Each worker copies ``lib/attention_course`` into a
temporary folder outside the repository (the large weight folders are symbolic links), writes
mutants there, runs pytest with that copy first on ``PYTHONPATH`` (with bytecode writing off, so
no stale .pyc of an earlier mutant is ever imported), and deletes the folder at the end, also on
Ctrl-C or SIGTERM.

Output: per module, killed / total (equivalents excluded) and the score, then every survivor as
``file:line  before → after``.
"""
from __future__ import annotations

import argparse
import ast
import copy
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "lib" / "attention_course"
EQUIVALENTS = Path(__file__).with_name("mutation_equivalents.toml")

# module (relative to lib/attention_course) -> the test files that check it. Each mutant runs only
# the test functions of these files that execute its statement (from one coverage run of the
# unmutated package), fastest first, and pytest stops at the first failure (-x).
SEARCH = ["tests/test_search.py", "tests/test_beam_rescoring.py"]
MODEL = ["tests/test_attention.py", "tests/test_models.py", "tests/test_config_modules.py",
         "tests/test_dropout_sites.py", "tests/test_numerics.py", "tests/test_fast_paths.py"]
MODULES: dict[str, list[str]] = {
    "search/greedy.py": SEARCH,
    "search/beam.py": SEARCH + ["tests/test_coverage_penalty.py"],
    "models/attention.py": MODEL + SEARCH,
    "models/layers.py": MODEL + SEARCH,
    "models/bahdanau_decoder.py": MODEL + SEARCH,
    "models/luong_decoder.py": MODEL + SEARCH,
    "data/split.py": ["tests/test_split.py", "tests/test_split_edges.py"],
    "data/text.py": ["tests/test_text.py", "tests/test_tokenizer_table.py", "tests/test_mut_text.py"],
    "evaluation/bleu.py": ["tests/test_bleu_references.py"],
}
LINKED = ("checkpoints", "alignment_models", "synthetic")   # large data folders: linked, not copied


# ------------------------------------------------------------------------------------------------
# Mutants
# ------------------------------------------------------------------------------------------------

COMPARE = {ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt, ast.Eq: ast.NotEq,
           ast.NotEq: ast.Eq, ast.In: ast.NotIn, ast.NotIn: ast.In, ast.Is: ast.IsNot, ast.IsNot: ast.Is}
BINARY = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult, ast.FloorDiv: ast.Div,
          ast.Mod: ast.FloorDiv, ast.Pow: ast.Mult, ast.BitAnd: ast.BitOr, ast.BitOr: ast.BitAnd}
SWAPPED_NAMES = {"min": "max", "max": "min", "minimum": "maximum", "maximum": "minimum", "amax": "amin",
                 "amin": "amax", "any": "all", "all": "any"}
# one-argument calls never unwrapped (the result would only be a type error, or nothing at all)
KEEP_CALLS = {"len", "range", "enumerate", "zip", "isinstance", "super", "print", "str", "repr", "type",
              "tuple", "list", "dict", "set", "frozenset", "sorted", "next", "iter", "getattr", "hasattr",
              "ValueError", "TypeError", "KeyError", "RuntimeError", "Path", "staticmethod"}
# methods never replaced by their receiver (conversions and shape queries: only type errors would follow)
KEEP_METHODS = {"tolist", "size", "numel", "item", "view", "reshape", "nonzero", "dim", "keys", "values", "items",
                "hexdigest", "encode", "decode", "long", "group", "finditer", "new_zeros", "new_ones", "new_full",
                "unflatten", "chunk", "split", "join", "append", "setdefault", "get", "format"}


def _number(node: ast.AST):
    """The value of a numeric literal, also a negative one (``-1`` is ``USub(1)`` in the tree); else None."""
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant) \
            and type(node.operand.value) in (int, float):
        return -node.operand.value
    return None


@dataclass
class Mutant:
    module: str          # relative to lib/attention_course
    line: int
    kind: str
    description: str     # "before → after", or "remove: statement"
    code: str            # the original source line, stripped
    source: str = field(repr=False, default="")
    lines: range = range(0)   # the lines of the statement it is in (what coverage records)
    tests: list[str] = field(default_factory=list)   # the pytest node ids it is run against
    outcome: str = ""    # killed, timeout, survived, equivalent
    seconds: float = 0.0
    reason: str = ""

    @property
    def where(self) -> str:
        return f"{self.module}:{self.line}"


def _short(node: ast.AST, width: int = 70) -> str:
    text = " ".join(ast.unparse(node).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _pair(before: str, after: str, width: int = 70) -> str:
    """"before → after", each cut to about ``width`` characters around where they differ."""
    before, after = " ".join(before.split()), " ".join(after.split())
    if max(len(before), len(after)) > width:
        p = 0
        while p < min(len(before), len(after)) and before[p] == after[p]:
            p += 1
        start = max(0, p - width // 2)
        before, after = (("…" if start else "") + x[start:] for x in (before, after))
        before, after = (x if len(x) <= width else x[: width - 1] + "…" for x in (before, after))
    return f"{before} → {after}"


def _skipped_subtrees(tree: ast.Module) -> set[int]:
    """ids of nodes that are never mutated: docstrings, annotations, default values, f-strings, raise, __all__."""
    skip: set[int] = set()

    def mark(node):
        if node is not None:
            skip.update(id(n) for n in ast.walk(node))

    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                    and isinstance(body[0].value.value, str):
                mark(body[0])
        if isinstance(node, ast.UnaryOp) and _number(node) is not None:
            skip.add(id(node.operand))                    # -1 is mutated as a whole
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for d in node.args.defaults + node.args.kw_defaults:
                mark(d)                                   # default values: API choices, not logic
            mark(node.returns)
            for a in node.args.args + node.args.kwonlyargs + node.args.posonlyargs:
                mark(a.annotation)
            for a in (node.args.vararg, node.args.kwarg):
                if a is not None:
                    mark(a.annotation)
        if isinstance(node, ast.AnnAssign):
            mark(node.annotation)
        if isinstance(node, (ast.JoinedStr, ast.Raise, ast.Import, ast.ImportFrom)):
            mark(node)
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
            mark(node)
    return skip


def _expression_mutations(node: ast.AST, imported: set[str]):
    """(kind, factory) pairs for one expression node; factory(copy_of_node) -> replacement node."""
    out = []
    if isinstance(node, ast.Compare):
        for i, op in enumerate(node.ops):
            if type(op) in COMPARE:
                def f(n, i=i):
                    n.ops[i] = COMPARE[type(n.ops[i])]()
                    return n
                out.append(("compare", f))
    elif isinstance(node, ast.BinOp) and type(node.op) in BINARY:
        def f(n):
            n.op = BINARY[type(n.op)]()
            return n
        out.append(("arithmetic", f))
    elif isinstance(node, ast.BoolOp):
        def f(n):
            n.op = ast.Or() if isinstance(n.op, ast.And) else ast.And()
            return n
        out.append(("boolean", f))
    elif _number(node) is not None and not isinstance(node, ast.Constant):        # -1, -0.5: a constant
        v = _number(node)
        if isinstance(v, int):
            out += [("constant", lambda n: ast.Constant(_number(n) + 1)), ("constant", lambda n: ast.Constant(_number(n) - 1))]
        else:
            out.append(("constant", lambda n: ast.Constant(_number(n) + 1.0)))
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.Not, ast.USub, ast.Invert)):
        out.append(("unary", lambda n: n.operand))
    elif isinstance(node, ast.Constant):
        v = node.value
        if isinstance(v, bool):
            out.append(("constant", lambda n: ast.Constant(not n.value)))
        elif isinstance(v, int):
            out.append(("constant", lambda n: ast.Constant(n.value + 1)))
            if v != 0:
                out.append(("constant", lambda n: ast.Constant(n.value - 1)))
        elif isinstance(v, float):
            out.append(("constant", lambda n: ast.Constant(n.value + 1.0)))
    elif isinstance(node, ast.Name) and node.id in SWAPPED_NAMES and isinstance(node.ctx, ast.Load):
        out.append(("swap", lambda n: ast.Name(SWAPPED_NAMES[n.id], ast.Load())))
    elif isinstance(node, ast.Attribute) and node.attr in SWAPPED_NAMES and isinstance(node.ctx, ast.Load):
        def f(n):
            n.attr = SWAPPED_NAMES[n.attr]
            return n
        out.append(("swap", f))
    elif isinstance(node, ast.Call):
        func = node.func
        owner = func.value.id if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) else None
        function = isinstance(func, ast.Name) or owner in imported | {"self"}   # not a method of a value
        name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
        if function and len(node.args) == 1 and not node.keywords and not isinstance(node.args[0], ast.Starred) \
                and name not in KEEP_CALLS and _number(node.args[0]) is None \
                and not isinstance(node.args[0], ast.Constant):
            out.append(("call", lambda n: n.args[0]))
        if isinstance(func, ast.Attribute) and not function and func.attr not in KEEP_METHODS:
            out.append(("method", lambda n: n.func.value))
    elif isinstance(node, ast.Slice):
        for bound in ("lower", "upper"):
            if getattr(node, bound) is not None:
                def drop(n, bound=bound):
                    setattr(n, bound, None)
                    return n

                def plus(n, bound=bound):
                    setattr(n, bound, ast.BinOp(getattr(n, bound), ast.Add(), ast.Constant(1)))
                    return n
                out += [("slice", drop), ("slice", plus)]
    return out


def _removable(stmt: ast.stmt, bound: set[str]) -> bool:
    if isinstance(stmt, ast.Expr):
        return not isinstance(stmt.value, ast.Constant)
    if isinstance(stmt, ast.AugAssign):
        return True
    if isinstance(stmt, ast.Assign):
        for t in stmt.targets:
            for n in ast.walk(t):
                if isinstance(n, ast.Subscript) or (isinstance(n, ast.Name) and n.id in bound):
                    return True
    return False


def _names_bound_before(scope: ast.AST) -> dict[int, set[str]]:
    """For each statement (by id) in a function or module, the plain names bound before it in the
    same scope (arguments, earlier assignments and loop targets), in source order."""
    out: dict[int, set[str]] = {}
    bound: set[str] = set()
    if isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef)):
        bound |= {a.arg for a in scope.args.args + scope.args.kwonlyargs + scope.args.posonlyargs}
    stmts = [n for n in ast.walk(scope) if isinstance(n, ast.stmt) and n is not scope]
    for stmt in sorted(stmts, key=lambda s: (s.lineno, s.col_offset)):
        out[id(stmt)] = set(bound)
        if isinstance(stmt, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.For)):
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            for t in targets:
                bound |= {n.id for n in ast.walk(t) if isinstance(n, ast.Name)}
    return out


def _scopes(tree: ast.Module) -> dict[int, set[str]]:
    """Names bound before each statement, in the innermost function around it (or the module)."""
    bound = _names_bound_before(tree)
    for fn in ast.walk(tree):                     # outer functions first: inner ones overwrite
        if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            bound.update(_names_bound_before(fn))
    return bound


def _walk_with_parents(tree: ast.AST):
    """(index of parent in ast.walk order, field, position in list or None, child) for every child."""
    for p_index, parent in enumerate(ast.walk(tree)):
        for name, value in ast.iter_fields(parent):
            if isinstance(value, list):
                for i, child in enumerate(value):
                    if isinstance(child, ast.AST):
                        yield p_index, name, i, child
            elif isinstance(value, ast.AST):
                yield p_index, name, None, value


def _statement_lines(statements: list[ast.stmt], node: ast.AST) -> range:
    """The lines of the innermost statement around ``node`` (of a compound statement: its header)."""
    line = getattr(node, "lineno", 1)
    around = [s for s in statements if s.lineno <= line <= s.end_lineno]
    if not around:
        return range(line, line + 1)
    stmt = min(around, key=lambda s: s.end_lineno - s.lineno)
    body = getattr(stmt, "body", None)
    end = body[0].lineno - 1 if isinstance(body, list) and body and body[0] is not node else stmt.end_lineno
    return range(stmt.lineno, max(stmt.lineno, end) + 1)


def make_mutants(module: str, text: str) -> list[Mutant]:
    tree = ast.parse(text)
    lines = text.splitlines()
    skip = _skipped_subtrees(tree)
    imported = {(a.asname or a.name).split(".")[0] for n in ast.walk(tree)
                if isinstance(n, (ast.Import, ast.ImportFrom)) for a in n.names}
    bound = _scopes(tree)
    original = ast.unparse(tree)
    seen = {hashlib.sha1(original.encode()).hexdigest()}
    mutants: list[Mutant] = []
    parents = list(ast.walk(tree))
    index_of = {id(n): i for i, n in enumerate(parents)}
    parent_of = {id(c): p for p in parents for c in ast.iter_child_nodes(p)}
    statements = [n for n in parents if isinstance(n, ast.stmt)]
    for p_index, fname, pos, child in list(_walk_with_parents(tree)):
        if id(child) in skip:
            continue
        choices = []
        if isinstance(child, ast.stmt) and pos is not None and _removable(child, bound.get(id(child), set())):
            choices.append(("remove", lambda n: ast.Pass(), True))
        if isinstance(child, ast.expr):
            statement_call = isinstance(child, ast.Call) and fname == "value" and isinstance(parents[p_index], ast.Expr)
            choices += [(k, f, False) for k, f in _expression_mutations(child, imported)
                        if not (statement_call and k in ("call", "method"))]   # "remove" covers those
        if isinstance(child, ast.AugAssign) and type(child.op) in BINARY:
            def aug(n):
                n.op = BINARY[type(n.op)]()
                return n
            choices.append(("arithmetic", aug, False))
        for kind, factory, is_removal in choices:
            new_tree = copy.deepcopy(tree)
            parent = list(ast.walk(new_tree))[p_index]
            container = getattr(parent, fname)
            old = container[pos] if pos is not None else container
            before = _short(old)
            new = factory(copy.deepcopy(old))
            if not hasattr(new, "lineno"):
                ast.copy_location(new, old)
            if pos is not None:
                container[pos] = new
            else:
                setattr(parent, fname, new)
            ast.fix_missing_locations(new_tree)
            try:
                source = ast.unparse(new_tree)
                compile(source, module, "exec")
            except (SyntaxError, ValueError, TypeError):
                continue
            digest = hashlib.sha1(source.encode()).hexdigest()
            if digest in seen:
                continue
            seen.add(digest)
            if is_removal:
                desc = f"remove: {before}"
            else:
                # a number or a bound alone says little: show the expression (a subscript, a call) around it
                ctx = parents[p_index] if kind in ("constant", "slice") and isinstance(parents[p_index], (
                    ast.expr, ast.keyword)) else child
                while isinstance(ctx, (ast.Tuple, ast.Slice)) or isinstance(parent_of.get(id(ctx)), ast.Slice):
                    if not isinstance(parent_of.get(id(ctx)), ast.expr):
                        break
                    ctx = parent_of[id(ctx)]
                desc = _pair(ast.unparse(ctx), ast.unparse(list(ast.walk(new_tree))[index_of[id(ctx)]]))
            line = getattr(child, "lineno", None) or getattr(parent, "lineno", 0)
            mutants.append(Mutant(module, line, kind, desc, lines[line - 1].strip() if line else "", source,
                                  _statement_lines(statements, child)))
    mutants.sort(key=lambda m: m.line)
    return mutants


# ------------------------------------------------------------------------------------------------
# Equivalent mutants
# ------------------------------------------------------------------------------------------------

def load_equivalents(path: Path = EQUIVALENTS) -> list[dict]:
    if not path.is_file():
        return []
    entries = tomllib.loads(path.read_text(encoding="utf-8")).get("equivalent", [])
    for e in entries:
        missing = {"file", "code", "mutation", "reason"} - set(e)
        if missing:
            raise SystemExit(f"{path}: an entry lacks {sorted(missing)}: {e}")
    return entries


def equivalent_reason(m: Mutant, entries: list[dict]) -> str | None:
    for e in entries:
        if e["file"] == m.module and e["mutation"] == m.description and e["code"] in m.code:
            return e["reason"]
    return None


# ------------------------------------------------------------------------------------------------
# Running the tests: workspaces, a coverage map, and fork servers
# ------------------------------------------------------------------------------------------------

class Workspace:
    """A temporary copy of the package outside the repository; ``write`` puts one module's source in it."""

    def __init__(self):
        self.root = Path(tempfile.mkdtemp(prefix="mutation-"))
        assert ROOT not in self.root.parents, "the workspace must lie outside the repository"
        dest = self.root / "attention_course"
        shutil.copytree(PACKAGE, dest, ignore=shutil.ignore_patterns("__pycache__", *LINKED))
        for name in LINKED:
            if (PACKAGE / name).exists():
                (dest / name).symlink_to(PACKAGE / name)
        self.package = dest
        self.originals = {m: (PACKAGE / m).read_text(encoding="utf-8") for m in MODULES}

    def write(self, module: str, source: str) -> None:
        (self.package / module).write_text(source, encoding="utf-8")

    def restore(self, module: str) -> None:
        self.write(module, self.originals[module])

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def child_env(ws: Workspace) -> dict[str, str]:
    """The workspace first on PYTHONPATH (before the editable install's lib/), no bytecode written
    (a mutant of the same size written within the same second must never reuse a stale .pyc), one thread."""
    path = os.pathsep.join(p for p in (str(ws.root), os.environ.get("PYTHONPATH", "")) if p)
    return dict(os.environ, PYTHONPATH=path, PYTHONDONTWRITEBYTECODE="1", OMP_NUM_THREADS="1",
                MKL_NUM_THREADS="1", PYTHONHASHSEED="0")


PYTEST_ARGS = ["-q", "-o", "addopts=", "-p", "no:cacheprovider",
               "-W", "ignore::pytest.PytestAssertRewriteWarning"]   # plugins imported by the server before pytest


def coverage_map(ws: Workspace, modules: list[str]
                 ) -> tuple[dict[str, dict[int, set[str]]], dict[str, float], set[str]]:
    """Run every mapped test once on the unmutated copy under coverage.py, recording which test
    function ran which line. Returns {module: {line: {node id, ...}}} ('' = run outside a test,
    e.g. at import or in a fixture), {node id: seconds} and the failing node ids. Test functions that fail here are
    left out (with a warning): they cannot tell a mutant from the original."""
    import coverage

    tests = sorted({t for m in modules for t in MODULES[m] if (ROOT / t).is_file()})
    data_file = ws.root / ".coverage"
    rc = ws.root / "coveragerc"
    rc.write_text(f"[run]\ndynamic_context = test_function\ndata_file = {data_file}\n"
                  f"source = {ws.package}\n", encoding="utf-8")
    cmd = [sys.executable, "-m", "coverage", "run", f"--rcfile={rc}", "-m", "pytest", *PYTEST_ARGS,
           "--durations=0", "--durations-min=0", *tests]
    proc = subprocess.run(cmd, cwd=ROOT, env=child_env(ws), capture_output=True, text=True)
    failing = {line.split()[1].split("[")[0] for line in proc.stdout.splitlines()
               if line.startswith(("FAILED ", "ERROR ")) and "::" in line}
    if proc.returncode != 0 and (proc.returncode != 1 or not failing):
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-40:])
        raise SystemExit(f"the mapped tests cannot run on the unmutated package (exit {proc.returncode}):\n{tail}")
    for node in sorted(failing):
        print(f"warning: {node} fails without any mutation: it is left out", flush=True)
    durations: dict[str, float] = {}
    for line in proc.stdout.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0].endswith("s") and "::" in parts[2]:
            node = parts[2].split("[")[0]
            try:
                durations[node] = durations.get(node, 0.0) + float(parts[0][:-1])
            except ValueError:
                pass
    data = coverage.CoverageData(basename=str(data_file))
    data.read()
    by_stem = {Path(t).stem: t for t in tests}
    out: dict[str, dict[int, set[str]]] = {}
    for module in modules:
        path = str(ws.package / module)
        contexts = data.contexts_by_lineno(path) if path in data.measured_files() else {}
        out[module] = {}
        for line, names in contexts.items():
            nodes = set()
            for name in names:
                stem, _, func = name.partition(".")
                nodes.add(f"{by_stem[stem]}::{func.replace('.', '::')}" if stem in by_stem and func else "")
            out[module][line] = nodes - failing
    return out, durations, failing


def select_tests(m: Mutant, lines: dict[int, set[str]], durations: dict[str, float],
                 failing: set[str]) -> list[str] | None:
    """pytest arguments: the mapped tests that run the mutated statement, fastest first; every
    mapped test file (less the failing tests) when the statement also runs outside a test (at
    import, in a fixture); None when no test runs it."""
    nodes = set().union(*(lines.get(n, set()) for n in m.lines))
    allowed = [t for t in MODULES[m.module] if (ROOT / t).is_file()]
    if not nodes:
        return None
    if "" in nodes:
        return allowed + [a for n in sorted(failing) if n.split("::")[0] in allowed for a in ("--deselect", n)]
    nodes = {n for n in nodes if n.split("::")[0] in allowed}
    return sorted(nodes, key=lambda n: (durations.get(n, 0.0), n)) or None


def expected_seconds(args: list[str], durations: dict[str, float]) -> float:
    """The coverage run's time of the tests in pytest arguments (node ids or whole files)."""
    total = 0.0
    for a in args:
        if a.startswith("--") or "::" in a and a not in durations:
            continue
        total += durations[a] if "::" in a else sum(v for k, v in durations.items() if k.startswith(a + "::"))
    return total


class Server:
    """A process that imports the heavy libraries once (torch, pytest, sacrebleu, ...) and then
    forks one child per test run: the child imports the package from the workspace, so each
    mutant is imported fresh, and runs pytest.main; a child past its timeout is killed."""

    def __init__(self, ws: Workspace):
        self.ws = ws
        self.proc = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--serve"], cwd=ROOT,
                                     env=child_env(ws), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True, process_group=0)   # its own group, not a new session

    def run(self, tests: list[str], timeout: float) -> tuple[str, float]:
        log = self.ws.root / "last-run.log"
        self.proc.stdin.write(json.dumps({"args": ["-x", *PYTEST_ARGS, *tests], "timeout": timeout,
                                          "log": str(log)}) + "\n")
        self.proc.stdin.flush()
        reply = self.proc.stdout.readline()
        if not reply:
            raise RuntimeError("the test server stopped")
        r = json.loads(reply)
        if r["timeout"]:
            return "timeout", r["seconds"]
        if r["rc"] == 0:
            return "survived", r["seconds"]
        if r["rc"] not in (1, 2):          # 1: a test failed; 2: collection error (e.g. import of the mutant)
            self.last_log = log.read_text(errors="replace")
        return "killed", r["seconds"]

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=10)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass


def serve() -> int:
    """The --serve loop (see :class:`Server`): one JSON request per line on stdin, one reply per line."""
    import importlib.metadata
    plugins = [ep.module for ep in importlib.metadata.entry_points(group="pytest11")]
    for name in ("torch", "numpy", "sacrebleu", "safetensors", "yaml", "pytest", "_pytest.python",
                 "_pytest.assertion.rewrite", *plugins):   # the installed pytest plugins too (nbval: ~3 s)
        try:
            __import__(name)
        except Exception:                                       # noqa: BLE001 - a plugin that fails here fails in pytest too
            pass
    import pytest
    child = None

    def on_term(signum, frame):
        if child:
            try:
                os.killpg(child, signal.SIGKILL)
            except ProcessLookupError:
                pass
        os._exit(1)

    signal.signal(signal.SIGTERM, on_term)
    for line in sys.stdin:
        req = json.loads(line)
        sys.stdout.flush()
        start = time.monotonic()
        child = os.fork()
        if child == 0:                                          # the child: run pytest, nothing else
            try:
                os.setpgid(0, 0)
                fd = os.open(req["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
                os.dup2(fd, 1)
                os.dup2(fd, 2)
                sys.dont_write_bytecode = True
                rc = int(pytest.main(req["args"]))
            except BaseException:                               # noqa: BLE001 - any failure kills the mutant
                rc = 3
            finally:
                try:
                    sys.stdout.flush()
                    sys.stderr.flush()
                except Exception:                               # noqa: BLE001
                    pass
            os._exit(rc)
        timed_out, rc = False, None
        while True:
            pid, status = os.waitpid(child, os.WNOHANG)
            if pid:
                rc = os.waitstatus_to_exitcode(status)
                break
            if time.monotonic() - start > req["timeout"]:
                try:
                    os.killpg(child, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                os.waitpid(child, 0)
                timed_out = True
                break
            time.sleep(0.02)
        child = None
        print(json.dumps({"rc": rc, "timeout": timed_out, "seconds": time.monotonic() - start}), flush=True)
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("modules", nargs="*", help=f"modules to mutate (default: all of {', '.join(MODULES)})")
    ap.add_argument("--list", action="store_true", help="only list the mutants")
    ap.add_argument("--jobs", type=int, default=1, help="mutants tested at once (default 1)")
    ap.add_argument("--timeout", type=float, default=None,
                    help="seconds per mutant (default: 60 + 5 x the selected tests' time under coverage)")
    ap.add_argument("--json", type=Path, help="write every mutant's outcome here")
    ap.add_argument("--show-equivalent", action="store_true", help="also list the equivalent survivors")
    ap.add_argument("--since", type=Path, metavar="JSON",
                    help="take the mutants a previous --json run killed as killed (same module, line text and "
                         "mutation) and test only the others: quick iterations; a full run gives the real score")
    ap.add_argument("--verbose", action="store_true", help="print every mutant's outcome and time")
    ap.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.serve:
        return serve()

    modules = args.modules or list(MODULES)
    unknown = [m for m in modules if m not in MODULES]
    if unknown:
        ap.error(f"unknown modules {unknown}; choose from {list(MODULES)}")
    for m in modules:
        missing = [t for t in MODULES[m] if not (ROOT / t).is_file()]
        if missing:
            print(f"warning: {m}: mapped test files missing, skipped: {missing}", flush=True)
    entries = load_equivalents()
    plan = {m: make_mutants(m, (PACKAGE / m).read_text(encoding="utf-8")) for m in modules}
    if args.since:
        before = json.loads(args.since.read_text(encoding="utf-8"))
        killed_before = {(m, x["code"], x["mutation"]) for m, xs in before.items() for x in xs
                         if x["outcome"] in ("killed", "timeout")}
        for m, mutants in plan.items():
            for mu in mutants:
                if (m, mu.code, mu.description) in killed_before:
                    mu.outcome = "killed"
    if args.list:
        for m, mutants in plan.items():
            print(f"{m}: {len(mutants)} mutants")
            for mu in mutants:
                eq = equivalent_reason(mu, entries)
                print(f"  {mu.where:34} {mu.kind:10} {mu.description}" + ("   [equivalent]" if eq else ""))
        for e in entries:
            if e["file"] in plan and not any(equivalent_reason(mu, [e]) for mu in plan[e["file"]]):
                print(f"note: an equivalent entry matches no mutant: {e['file']}: {e['code']!r} {e['mutation']!r}")
        return 0

    def on_term(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    workspaces: list[Workspace] = []
    servers: list[Server] = []
    results: dict[str, list[Mutant]] = {}
    try:
        workspaces = [Workspace() for _ in range(max(1, args.jobs))]
        started = time.monotonic()
        print(f"coverage run of the mapped tests on the unmutated package ...", flush=True)
        lines_by_module, durations, failing = coverage_map(workspaces[0], modules)
        print(f"  done in {time.monotonic() - started:.0f} s", flush=True)
        servers = [Server(ws) for ws in workspaces]
        free = list(servers)
        free_lock = threading.Condition()

        def test_one(mu: Mutant) -> Mutant:
            if mu.outcome:                     # killed in the --since run
                return mu
            if not mu.tests:
                mu.outcome = "survived"        # no test runs this statement
                return mu
            with free_lock:
                while not free:
                    free_lock.wait()
                server = free.pop()
            try:
                server.ws.write(mu.module, mu.source)
                timeout = args.timeout or 60 + 5 * expected_seconds(mu.tests, durations)
                mu.outcome, mu.seconds = server.run(mu.tests, timeout)
            finally:
                server.ws.restore(mu.module)
                with free_lock:
                    free.append(server)
                    free_lock.notify()
            return mu

        for module, mutants in plan.items():
            for mu in mutants:
                mu.tests = select_tests(mu, lines_by_module[module], durations, failing) or []
            print(f"{module}: {len(mutants)} mutants ({sum(not m.tests for m in mutants)} run by no test"
                  + (f", {sum(bool(m.outcome) for m in mutants)} killed in {args.since}" if args.since else "") + ")",
                  flush=True)
            pool = ThreadPoolExecutor(max_workers=len(servers))
            futures = [pool.submit(test_one, mu) for mu in mutants]
            try:
                for n, fut in enumerate(futures, 1):
                    while True:                      # short waits keep Ctrl-C responsive
                        try:
                            mu = fut.result(timeout=1.0)
                            break
                        except TimeoutError:
                            continue
                    if args.verbose:
                        print(f"  [{n}/{len(mutants)}] {mu.outcome:9} {mu.seconds:5.1f} s  {len(mu.tests):3} tests  "
                              f"{mu.where}  {mu.description}", flush=True)
                    if mu.outcome == "survived":
                        reason = equivalent_reason(mu, entries)
                        if reason is not None:
                            mu.outcome, mu.reason = "equivalent", reason
                        elif not args.verbose:
                            print(f"  [{n}/{len(mutants)}] survived  {mu.where}  {mu.description}"
                                  + ("  (no test runs it)" if not mu.tests else ""), flush=True)
            finally:
                for fut in futures:
                    fut.cancel()
                pool.shutdown(wait=False)
            results[module] = mutants
            print(summary_line(module, mutants), flush=True)
            if args.json:
                write_json(args.json, results)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    finally:
        for server in servers:
            server.stop()
        for ws in workspaces:
            ws.remove()

    report(results, args.show_equivalent)
    print(f"\n{sum(len(ms) for ms in results.values())} mutants in {len(results)} modules, "
          f"wall time {time.monotonic() - started:.0f} s", flush=True)
    used = {(m.module, m.reason, m.code) for ms in results.values() for m in ms if m.outcome == "equivalent"}
    for e in entries:
        if e["file"] in results and not any(mod == e["file"] and reason == e["reason"] and e["code"] in code
                                            for mod, reason, code in used):
            print(f"note: an equivalent entry matched no survivor: {e['file']}: {e['code']!r} {e['mutation']!r}")
    if args.json:
        write_json(args.json, results)
    return 0


def write_json(path: Path, results: dict[str, list[Mutant]]) -> None:
    """Every finished module's outcomes (written after each module, so an interrupted run keeps them)."""
    path.write_text(json.dumps({m: [dict(line=x.line, kind=x.kind, mutation=x.description, code=x.code,
                                         outcome=x.outcome, seconds=round(x.seconds, 1), reason=x.reason,
                                         tests=len(x.tests)) for x in ms]
                               for m, ms in results.items()}, indent=1, ensure_ascii=False), encoding="utf-8")


def summary_line(module: str, mutants: list[Mutant]) -> str:
    counted = [m for m in mutants if m.outcome != "equivalent"]
    killed = sum(m.outcome in ("killed", "timeout") for m in counted)
    eq = len(mutants) - len(counted)
    pct = 100.0 * killed / len(counted) if counted else 100.0
    return f"{module:28} {killed:4}/{len(counted):<4} {pct:6.1f} %   ({eq} equivalent)"


def report(results: dict[str, list[Mutant]], show_equivalent: bool) -> None:
    print("\nmodule                        killed/total   score")
    for module, mutants in results.items():
        print(summary_line(module, mutants))
    total = [m for ms in results.values() for m in ms if m.outcome != "equivalent"]
    killed = sum(m.outcome in ("killed", "timeout") for m in total)
    if total:
        print(f"{'all':28} {killed:4}/{len(total):<4} {100.0 * killed / len(total):6.1f} %")
    survivors = [m for ms in results.values() for m in ms if m.outcome == "survived"]
    if survivors:
        print("\nsurvivors:")
        for m in survivors:
            print(f"  {m.where:34} {m.description}")
    if show_equivalent:
        print("\nequivalent (not counted):")
        for m in (m for ms in results.values() for m in ms if m.outcome == "equivalent"):
            print(f"  {m.where:34} {m.description}   -- {m.reason}")


if __name__ == "__main__":
    sys.exit(main())
