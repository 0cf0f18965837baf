"""Mutation testing of the money code (pricing, usage, ledger, metering, request caps, DeepL's count) and of
the edge checks (limits, auth, cors): do the unit tests notice when it is wrong?

    python3 scripts/mutation.py                 every mutant of every module (about 12 minutes on 2 cores)
    python3 scripts/mutation.py --sample 60     a random sample (seeded: --seed N)
    python3 scripts/mutation.py --module ledger --list

Each mutant is one small change to one module (a comparison turned, an arithmetic operator swapped,
a constant moved by one, `and` for `or`, a `not` dropped, a key or an SQL operator changed, a call
left out, a return value lost), made on the syntax tree and written back as source into a copy of
`src/`; the module's unit tests then run against that copy (stopping at the first failure). A mutant the
tests let pass "survives". Mutants that cannot change behaviour are listed in EQUIVALENT with the
reason, and left out of the score. Exit status 1 when fewer than --threshold (90 %) of the others
are killed.
"""

from __future__ import annotations

import argparse
import ast
import concurrent.futures
import copy
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"

# The money modules, each with the unit tests that speak for it first (a run stops at the first
# failure), then the others'; deepl.py only its counting part.
_MONEY_TESTS = ["tests/unit/test_pricing.py", "tests/unit/test_ledger.py", "tests/unit/test_metering.py",
                "tests/unit/test_usage_accounting.py", "tests/unit/test_request_caps.py", "tests/unit/test_markup_and_deepl.py"]


def _first(*tests: str) -> list[str]:
    return [*tests, *(t for t in _MONEY_TESTS if t not in tests)]


MODULES: dict[str, dict] = {
    "pricing": {"tests": _first("tests/unit/test_pricing.py")},
    "usage": {"tests": _first("tests/unit/test_usage_accounting.py")},
    "ledger": {"tests": _first("tests/unit/test_ledger.py")},
    "metering": {"tests": _first("tests/unit/test_metering.py", "tests/unit/test_platform_options.py")},
    "request_caps": {"tests": _first("tests/unit/test_request_caps.py", "tests/unit/test_inline_data.py")},
    "deepl": {"tests": _first("tests/unit/test_metering.py", "tests/unit/test_markup_and_deepl.py"),
              "functions": {"billed_characters", "character_limit", "reserve_characters", "count_characters", "characters_used"}},
    # The edge: what a request may bring in, who may make one, and which browsers may read the answer.
    "limits": {"tests": ["tests/unit/test_limits.py", "tests/unit/test_request_caps.py", "tests/unit/test_pipeline.py"]},
    "auth": {"tests": ["tests/unit/test_auth.py", "tests/unit/test_pipeline.py", "tests/unit/test_metering.py"]},
    "cors": {"tests": ["tests/unit/test_cors.py", "tests/unit/test_pipeline.py"]},
    # The isolate's memory: the heap pool every large body takes from, and the token-id limits.
    "heap": {"tests": ["tests/unit/test_heap.py"]},
    "tokens": {"tests": ["tests/unit/test_tokens.py"]},
    # A key's glossaries: whose they are (the key's hash in every statement), their caps, their entries.
    "glossaries": {"tests": ["tests/unit/test_glossaries.py"]},
}

# Mutants that cannot change what the code does, by id (module:line:column:operator), with why.
# Line numbers move with the code: a listed mutant that is killed, or no longer made, is reported.
_FAST_PATH = "bounded_map's fast path (in place rather than in tasks): the same results in the same order, never more than `limit` at once"
_UNITS = ("a Price unit's default: every price whose unit a computation reads sets it (tokens for chat, embeddings and "
          "translation, steps and tiles for images, the minute for audio), so the default is read by none")
_CACHE = "the size of a cache: the same answers, computed more or less often"
_IDS = ("the reservation numbers stay distinct within the request and inside its id range (`<id>:` to `<id>;`), "
        "whatever they start at and step by")
EQUIVALENT: dict[str, str] = {
    **{f"request_caps:112:{c}": _FAST_PATH for c in ("7:boolop", "7:compare0", "21:number", "21:zero", "35:number", "35:zero")},
    "heap:83:31:number": "at least two looks instead of one for a pool that allows no wait: 25 ms more before the 503",
    "tokens:32:8:number": "the size is checked every 4 097 ids instead of 4 096: 128 bytes more past the limit before it is seen",
    "glossaries:301:18:bool": "DictionaryInfo is never changed once made, nor hashed: frozen or not, it reads the same",
    "ledger:83:4:drop": "reset() stands for a fresh isolate in the tests, none of which leaves settlements kept",
    "ledger:86:18:bool": "Limits is never changed once made: frozen or not, it reads the same",
    "ledger:100:18:number": "-2 is as negative as -1: the SQL takes any negative cap for none",
    "ledger:101:21:number": "-2 is as negative as -1: the SQL takes any negative cap for none",
    "metering:37:26:number": "a 901 s deadline instead of 900: only a stream nobody reports the end of waits for it",
    "metering:39:20:number": "8 193 bytes of a stream's end instead of 8 192: its usage chunk is a few hundred bytes",
    "metering:41:21:number": "slices of another size: the SSE parser takes the stream split anywhere",
    "metering:41:26:number": "slices of another size: the SSE parser takes the stream split anywhere",
    "metering:61:14:bool": "calls compared by value rather than identity: two calls alike leave the open list alike",
    "metering:97:13:key": "raised on the DeepL routes only, whose envelopes show no code",
    "metering:98:14:bool": "raised on the DeepL routes only, where the quota flag means 456, which its status already is",
    "metering:129:29:number": "a 33-digit settlement id is as unique as a 32-digit one",
    "metering:130:29:number": _IDS,
    "metering:202:8:augassign": _IDS,
    "metering:202:30:number": _IDS,
    "metering:178:45:zero": "one call prepaid is one reservation, as its own would be",
    "metering:300:12:drop": "the settlement's one yield lets the answer go out before its write starts: an order of "
                            "microtasks, not what is written",
    "pricing:38:18:bool": "Price is never changed once made: frozen or not, it reads the same",
    **{f"pricing:{line}:{column}:number": _UNITS for line, column in ((43, 19), (44, 20), (45, 18), (46, 18), (47, 26))},
    **{f"usage:{line}:29:{op}": _CACHE for line in (26, 39) for op in ("number", "zero")},
    "usage:36:25:binop": "int(epoch / 86400) is int(epoch // 86400) for every epoch a clock gives (positive)",
    "usage:41:40:number": "a second more per day since 1970 stays under a day of drift until the year 2206",
    "usage:46:92:number": "a microsecond past midnight: the +0.999 s rounding up absorbs it",
    **{f"limits:{line}:{column}:number": "a slice of another size (65 KiB, 1025 KiB...): every slice's edges are "
       "handled, so any size gives the same skeleton" for line, column in ((67, 18), (67, 23), (69, 14), (69, 21))},
    "limits:117:10:compare0": "one more turn with start == size appends an empty piece",
    "limits:119:14:compare0": "at end == size the slice is the rest of the text: moving past its end changes nothing",
    "limits:120:19:number": "stepping by two still stops just after a byte that is no backslash, which is all a cut needs",
    "limits:141:18:binop": "len(parts) + 1 and len(parts) - 1 have the same parity",
    "limits:184:11:boolop": "a skeleton no pass can shrink stays as it is: the passes left change nothing",
    "limits:196:54:key": "escaped backslashes replaced by any text without a backslash or hex digit before it: `X__` as `__`",
    **{f"usage:{line}:{column}:number": "sums of figures already rounded to thousandths have no fourth decimal: the "
       "rounding only strips float noise, to three places or four" for line, column in ((126, 46), (127, 83))},
}

_COMPARE = {ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt, ast.Eq: ast.NotEq, ast.NotEq: ast.Eq,
            ast.Is: ast.IsNot, ast.IsNot: ast.Is, ast.In: ast.NotIn, ast.NotIn: ast.In}
_BINARY = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult, ast.FloorDiv: ast.Div, ast.Mod: ast.Mult}
_SQL = re.compile(r"\b(SELECT|INSERT|DELETE|UPDATE)\b")
_SQL_SWAPS = (("<=", "<"), (">=", ">"), (" + ", " - "), (" AND ", " OR "), (" OR ", " AND "), ("< 0", "<= 0"), ("= 1", "= 0"))
_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass
class Mutant:
    module: str
    line: int
    column: int
    operator: str
    description: str
    source: str

    @property
    def id(self) -> str:
        return f"{self.module}:{self.line}:{self.column}:{self.operator}"


def _docstring_nodes(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
                found.add(id(first.value))
    return found


def _skipped(tree: ast.AST) -> set[int]:
    """Nodes whose mutation only changes a message or a log line (docstrings, f-strings, what print()
    and ApiError() are given, a print() left out), type names (TypeVar), and the data tables (a
    module-level dict of five or more entries: prices, fallbacks, published defaults), which are
    data checked against their sources, not logic."""
    skipped = _docstring_nodes(tree)
    for node in getattr(tree, "body", []):
        value = node.value if isinstance(node, (ast.Assign, ast.AnnAssign)) else None
        if isinstance(value, ast.Dict) and len(value.keys) >= 5:
            skipped.update(id(n) for n in ast.walk(value))
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            skipped.update(id(n) for n in ast.walk(node))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("print", "ApiError", "TypeVar"):
            for arg in node.args[:2] if node.func.id == "ApiError" else node.args:
                skipped.update(id(n) for n in ast.walk(arg))
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call) and isinstance(node.value.func, ast.Name) \
                and node.value.func.id == "print":
            skipped.add(id(node))
    return skipped


def _in_scope(module: str, tree: ast.AST) -> set[int] | None:
    """For a module mutated in part: the ids of the nodes inside the functions named in MODULES."""
    names = MODULES[module].get("functions")
    if not names:
        return None
    inside = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name in names:
            inside.update(id(n) for n in ast.walk(node))
    return inside


def mutants(module: str) -> list[Mutant]:
    path = SRC / "gateway" / f"{module}.py"
    original = ast.parse(path.read_text())
    skipped, scope = _skipped(original), _in_scope(module, original)
    found: list[Mutant] = []

    def candidates():
        for node in ast.walk(original):
            if id(node) in skipped or (scope is not None and id(node) not in scope):
                continue
            if isinstance(node, ast.Compare):
                for i, op in enumerate(node.ops):
                    if type(op) in _COMPARE:
                        yield node, f"compare{i}", f"{type(op).__name__} -> {_COMPARE[type(op)].__name__}", \
                            lambda n, i=i: n.ops.__setitem__(i, _COMPARE[type(n.ops[i])]())
            elif isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
                yield node, "binop", f"{type(node.op).__name__} -> {_BINARY[type(node.op)].__name__}", \
                    lambda n: setattr(n, "op", _BINARY[type(n.op)]())
            elif isinstance(node, ast.AugAssign) and type(node.op) in _BINARY:
                yield node, "augassign", f"{type(node.op).__name__}= -> {_BINARY[type(node.op)].__name__}=", \
                    lambda n: setattr(n, "op", _BINARY[type(n.op)]())
            elif isinstance(node, ast.BoolOp):
                yield node, "boolop", "and <-> or", lambda n: setattr(n, "op", ast.Or() if isinstance(n.op, ast.And) else ast.And())
            elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
                yield node, "not", "not x -> x", "replace-operand"
            elif isinstance(node, ast.Constant) and type(node.value) is bool:
                yield node, "bool", f"{node.value} -> {not node.value}", lambda n: setattr(n, "value", not n.value)
            elif isinstance(node, ast.Constant) and type(node.value) in (int, float):
                yield node, "number", f"{node.value!r} -> {node.value + 1!r}", lambda n: setattr(n, "value", n.value + 1)
                if node.value != 0:
                    yield node, "zero", f"{node.value!r} -> 0", lambda n: setattr(n, "value", type(n.value)(0))
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                if _SQL.search(node.value):
                    for before, after in _SQL_SWAPS:
                        start = node.value.find(before)
                        while start >= 0:
                            yield node, f"sql{start}", f"SQL {before.strip()!r} -> {after.strip()!r} at {start}", \
                                lambda n, s=start, b=before, a=after: setattr(n, "value", n.value[:s] + a + n.value[s + len(b):])
                            start = node.value.find(before, start + 1)
                elif _KEY.match(node.value):
                    yield node, "key", f"{node.value!r} -> 'X{node.value}'", lambda n: setattr(n, "value", "X" + n.value)
            elif isinstance(node, ast.Return) and node.value is not None and not (
                    isinstance(node.value, ast.Constant) and node.value.value is None):
                yield node, "return", "return x -> return None", lambda n: setattr(n, "value", ast.Constant(None))
            elif isinstance(node, ast.Expr) and isinstance(node.value, (ast.Call, ast.Await)):
                yield node, "drop", f"drop `{ast.unparse(node)[:60]}`", "pass"

    seen = set()
    for node, operator, description, change in candidates():
        key = (node.lineno, node.col_offset, operator)
        if key in seen:
            continue
        seen.add(key)
        tree = copy.deepcopy(original)
        target = next(n for n in ast.walk(tree) if type(n) is type(node) and getattr(n, "lineno", None) == node.lineno
                      and getattr(n, "col_offset", None) == node.col_offset and ast.dump(n) == ast.dump(node))
        if change == "pass":
            _replace(tree, target, ast.Pass())
        elif change == "replace-operand":
            _replace(tree, target, target.operand)
        else:
            change(target)
        found.append(Mutant(module, node.lineno, node.col_offset, operator, description, ast.unparse(ast.fix_missing_locations(tree))))
    return found


def _replace(tree: ast.AST, old: ast.AST, new: ast.AST) -> None:
    for parent in ast.walk(tree):
        for name, value in ast.iter_fields(parent):
            if value is old:
                setattr(parent, name, new)
                return
            if isinstance(value, list) and old in value:
                value[value.index(old)] = new
                return


def run_tests(workdir: Path, tests: list[str], timeout: float) -> str:
    """'killed', 'survived' or 'timeout' (a mutant that hangs is noticed too)."""
    command = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "-o", f"pythonpath={workdir}",
               "--rootdir", str(ROOT), *tests]
    # The unit tests need no pytest plugin: not loading the installed ones (schemathesis, playwright...)
    # takes a run from 3.3 to 1.3 s.
    env = {**os.environ, "PYTHONPATH": str(workdir), "PYTHONDONTWRITEBYTECODE": "1", "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    try:
        result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return "timeout"
    if result.returncode == 0:
        return "survived"
    if result.returncode in (1, 2, 3):
        return "killed"
    return f"error {result.returncode}"


def check(mutant: Mutant, timeout: float) -> tuple[Mutant, str]:
    with tempfile.TemporaryDirectory(prefix="mutant-") as tmp:
        workdir = Path(tmp) / "src"
        shutil.copytree(SRC, workdir, ignore=shutil.ignore_patterns("__pycache__"))
        (workdir / "gateway" / f"{mutant.module}.py").write_text(mutant.source)
        return mutant, run_tests(workdir, MODULES[mutant.module]["tests"], timeout)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--module", action="append", choices=sorted(MODULES), help="only these modules (repeatable)")
    parser.add_argument("--sample", type=int, help="a random sample of this many mutants")
    parser.add_argument("--seed", type=int, default=27)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--timeout", type=float, default=20.0, help="seconds per mutant's test run")
    parser.add_argument("--threshold", type=float, default=90.0, help="the least share killed, in percent")
    parser.add_argument("--list", action="store_true", help="list the mutants, run nothing")
    args = parser.parse_args()

    everything = [m for module in (args.module or sorted(MODULES)) for m in mutants(module)]
    if args.sample and args.sample < len(everything):
        everything = random.Random(args.seed).sample(everything, args.sample)
    if args.list:
        for m in everything:
            print(f"{m.id:40} {m.description}")
        print(f"{len(everything)} mutants")
        return 0
    baseline = run_tests(SRC, sorted({t for spec in MODULES.values() for t in spec["tests"]}), args.timeout)
    if baseline != "survived":
        print(f"the unit tests fail without any mutation ({baseline}): fix them first")
        return 2

    outcomes: dict[str, list[Mutant]] = {}
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
        for done, (mutant, outcome) in enumerate(pool.map(lambda m: check(m, args.timeout), everything), 1):
            if mutant.id in EQUIVALENT and outcome == "survived":
                outcome = "equivalent"
            outcomes.setdefault(outcome, []).append(mutant)
            if done % 25 == 0:
                print(f"  {done} of {len(everything)}", file=sys.stderr, flush=True)

    made = {m.id for m in everything}
    chosen = set(args.module or MODULES)
    for stale in sorted(i for i in set(EQUIVALENT) - made if i.split(":")[0] in chosen and not args.sample):
        print(f"NOTE listed as equivalent but not made (the code moved?): {stale}")
    for mutant in outcomes.get("killed", []):
        if mutant.id in EQUIVALENT:
            print(f"NOTE listed as equivalent but killed: {mutant.id} {mutant.description}")
    survivors = outcomes.get("survived", [])
    for mutant in sorted(survivors, key=lambda m: (m.module, m.line)):
        print(f"SURVIVED {mutant.id:40} {mutant.description}")
    for mutant in outcomes.get("equivalent", []):
        print(f"equivalent {mutant.id:40} {EQUIVALENT[mutant.id]}")
    for outcome, found in sorted(outcomes.items()):
        if outcome.startswith("error"):
            for mutant in found:
                print(f"{outcome.upper()} {mutant.id:40} {mutant.description}")
    print()
    print("| module | mutants | killed | survived | equivalent | killed of the non-equivalent |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    total_killed = total_scored = 0
    for module in args.module or sorted(MODULES):
        mine = {o: [m for m in ms if m.module == module] for o, ms in outcomes.items()}
        killed = len(mine.get("killed", [])) + len(mine.get("timeout", []))
        survived = len(mine.get("survived", []))
        equivalent = len(mine.get("equivalent", []))
        errors = sum(len(ms) for o, ms in mine.items() if o.startswith("error"))
        scored = killed + survived + errors
        total_killed, total_scored = total_killed + killed, total_scored + scored
        share = f"{100 * killed / scored:.1f} %" if scored else "—"
        print(f"| {module} | {scored + equivalent} | {killed} | {survived + errors} | {equivalent} | {share} |")
    share = 100 * total_killed / total_scored if total_scored else 100.0
    print(f"| all | {total_scored + len(outcomes.get('equivalent', []))} | {total_killed} | {total_scored - total_killed} | "
          f"{len(outcomes.get('equivalent', []))} | **{share:.1f} %** |")
    return 0 if share >= args.threshold else 1


if __name__ == "__main__":
    sys.exit(main())
