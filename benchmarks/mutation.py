"""Mutation score: the yardstick nobody tunes to. Mutants of the mock's request handling and store
are run against the gate; a mutant the gate passes is a bug (or an equivalent change) it misses.

    python benchmarks/mutation.py [-n 10] [--seed 13] [--files semantics.py store.py http.py] [--list]

A small AST mutator (no dependency): at every site of the chosen files it can flip a comparison
(== / !=, < / >=, in / not in, is / is not), swap and/or, drop a `not`, flip True/False, add one
to an integer, turn a `raise` or a call statement into `pass` (not a bare hook point: the identity
on the correct mock, so always equivalent), or make a returned value None.
A seeded sample of N sites is drawn; for each, a copy of `src/` with the one mutated module goes
first on PYTHONPATH and `pytest contracts -x -q -p no:cacheprovider` runs against the embedded
(mutated) mock. Killed: the gate failed. Survived: it passed. Equivalent-or-timeout: the mutated
source is the original one, it does not compile, or the gate ran past the time limit (3x the
unmutated gate, at least 120 s). The last line is exactly
`mutation score: K/N killed, S survived, E equivalent-or-timeout in T s`.
"""

from __future__ import annotations

import argparse
import ast
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
MOCK = Path("src/meeting_room_contract/mock")
DEFAULT_FILES = ("semantics.py", "store.py", "http.py")
GATE = ["-m", "pytest", "contracts", "-x", "-q", "-p", "no:cacheprovider", "-p", "no:randomly"]

COMPARE_SWAPS = {ast.Eq: ast.NotEq, ast.NotEq: ast.Eq, ast.Lt: ast.GtE, ast.GtE: ast.Lt, ast.Gt: ast.LtE,
                 ast.LtE: ast.Gt, ast.In: ast.NotIn, ast.NotIn: ast.In, ast.Is: ast.IsNot, ast.IsNot: ast.Is}


@dataclass(frozen=True)
class Site:
    file: str
    index: int  # the index among the file's sites, in walk order
    line: int
    what: str


class Mutator(ast.NodeTransformer):
    """Counts mutation sites in a fixed order; with `target`, applies the one at that index."""

    def __init__(self, target: int | None = None):
        self.target, self.count, self.sites = target, 0, []

    def _site(self, node: ast.AST, what: str) -> bool:
        index = self.count
        self.count += 1
        self.sites.append((index, getattr(node, "lineno", 0), what))
        return index == self.target

    # annotations and docstrings are not behaviour
    def visit_AnnAssign(self, node: ast.AnnAssign) -> ast.AST:
        if node.value is not None:
            node.value = self.visit(node.value)
        return node

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.AST:
        node.body = [self.visit(statement) for statement in node.body]
        node.decorator_list = [self.visit(decorator) for decorator in node.decorator_list]
        node.args.defaults = [self.visit(default) for default in node.args.defaults]
        return node

    def visit_Expr(self, node: ast.Expr) -> ast.AST:
        if isinstance(node.value, ast.Constant):
            return node  # a docstring
        call = node.value
        if isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) and call.func.attr == "hooks":
            return self.generic_visit(node)  # a hook point whose value is unused: the identity on the correct path
        if isinstance(node.value, ast.Call) and self._site(node, f"call statement `{ast.unparse(node)[:60]}` -> pass"):
            return ast.copy_location(ast.Pass(), node)
        return self.generic_visit(node)

    def visit_Raise(self, node: ast.Raise) -> ast.AST:
        if self._site(node, f"`{ast.unparse(node)[:60]}` -> pass"):
            return ast.copy_location(ast.Pass(), node)
        return self.generic_visit(node)

    def visit_Return(self, node: ast.Return) -> ast.AST:
        if node.value is not None and not (isinstance(node.value, ast.Constant) and node.value.value is None):
            if self._site(node, f"`{ast.unparse(node)[:60]}` -> return None"):
                return ast.copy_location(ast.Return(value=None), node)
        return self.generic_visit(node)

    def visit_Compare(self, node: ast.Compare) -> ast.AST:
        self.generic_visit(node)
        for position, op in enumerate(node.ops):
            swap = COMPARE_SWAPS.get(type(op))
            if swap and self._site(node, f"`{ast.unparse(node)[:60]}`: {type(op).__name__} -> {swap.__name__}"):
                node.ops[position] = swap()
        return node

    def visit_BoolOp(self, node: ast.BoolOp) -> ast.AST:
        self.generic_visit(node)
        other = ast.Or if isinstance(node.op, ast.And) else ast.And
        if self._site(node, f"`{ast.unparse(node)[:60]}`: {type(node.op).__name__} -> {other.__name__}"):
            node.op = other()
        return node

    def visit_UnaryOp(self, node: ast.UnaryOp) -> ast.AST:
        self.generic_visit(node)
        if isinstance(node.op, ast.Not) and self._site(node, f"`{ast.unparse(node)[:60]}` -> without not"):
            return node.operand
        return node

    def visit_Constant(self, node: ast.Constant) -> ast.AST:
        if isinstance(node.value, bool):
            if self._site(node, f"{node.value} -> {not node.value}"):
                return ast.copy_location(ast.Constant(not node.value), node)
        elif isinstance(node.value, int) and self._site(node, f"{node.value} -> {node.value + 1}"):
            return ast.copy_location(ast.Constant(node.value + 1), node)
        return node


def sites(file: str) -> list[Site]:
    mutator = Mutator()
    mutator.visit(ast.parse((PROJECT_ROOT / MOCK / file).read_text(encoding="utf-8")))
    return [Site(file, index, line, what) for index, line, what in mutator.sites]


def mutated_source(site: Site) -> tuple[str, str]:
    """(original, mutated) source of the site's file, both unparsed the same way."""
    text = (PROJECT_ROOT / MOCK / site.file).read_text(encoding="utf-8")
    original = ast.unparse(ast.parse(text))
    tree = Mutator(site.index).visit(ast.parse(text))
    return original, ast.unparse(ast.fix_missing_locations(tree))


def run_gate(copy_root: Path, report_dir: Path, timeout: float) -> tuple[str, float]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("CONFERENCE_")}
    env["PYTHONPATH"] = str(copy_root / "src") + os.pathsep + env.get("PYTHONPATH", "")
    env["PYTHONHASHSEED"] = "0"
    started = time.monotonic()
    try:
        completed = subprocess.run([sys.executable, *GATE, "--report-dir", str(report_dir)], cwd=PROJECT_ROOT, env=env,
                                   capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return "timeout", time.monotonic() - started
    return ("passed" if completed.returncode == 0 else "failed"), time.monotonic() - started


def prepared_copy(root: Path) -> Path:
    """A copy of src/ and openapi/ (the package finds its spec beside src/)."""
    shutil.copytree(PROJECT_ROOT / "src", root / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    shutil.copytree(PROJECT_ROOT / "openapi", root / "openapi")
    marker = root / "src" / "meeting_room_contract" / "mock" / "__init__.py"
    marker.write_text(marker.read_text(encoding="utf-8") + "\nMUTATION_COPY = True\n", encoding="utf-8")
    return root


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=10, help="mutants to run (a seeded sample; default 10)")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--files", nargs="*", default=list(DEFAULT_FILES), help=f"mock modules to mutate (default {DEFAULT_FILES})")
    parser.add_argument("--list", action="store_true", help="list the sample and exit")
    args = parser.parse_args(argv)
    every = [site for file in args.files for site in sites(file)]
    sample = random.Random(args.seed).sample(every, min(args.n, len(every)))
    print(f"{len(every)} mutation sites in {', '.join(args.files)}; {len(sample)} sampled (seed {args.seed})", flush=True)
    if args.list:
        for site in sample:
            print(f"  {site.file}:{site.line} #{site.index} {site.what}")
        return 0
    started = time.monotonic()
    killed = survived = other = 0
    with tempfile.TemporaryDirectory(prefix="mutation-") as tmp:
        root = prepared_copy(Path(tmp))
        check = subprocess.run([sys.executable, "-c", "import meeting_room_contract.mock as m; print(m.MUTATION_COPY)"],
                               env={**os.environ, "PYTHONPATH": str(root / "src")}, capture_output=True, text=True)
        if check.stdout.strip() != "True":
            print(f"the copy on PYTHONPATH is not the package imported: {check.stderr[-500:]}", file=sys.stderr)
            return 2
        outcome, baseline = run_gate(root, root / "reports", timeout=600)
        if outcome != "passed":
            print(f"the unmutated gate did not pass ({outcome}): nothing to measure", file=sys.stderr)
            return 2
        limit = max(120.0, 3 * baseline)
        print(f"unmutated gate: passed in {baseline:.0f} s; limit per mutant {limit:.0f} s", flush=True)
        for number, site in enumerate(sample, start=1):
            target = root / MOCK / site.file
            original_text = (PROJECT_ROOT / MOCK / site.file).read_text(encoding="utf-8")
            original, mutant = mutated_source(site)
            if mutant == original:
                outcome, seconds = "equivalent", 0.0
            else:
                try:
                    compile(mutant, site.file, "exec")
                except SyntaxError:
                    outcome, seconds = "does not compile", 0.0
                else:
                    target.write_text(mutant, encoding="utf-8")
                    outcome, seconds = run_gate(root, root / "reports", timeout=limit)
                    target.write_text(original_text, encoding="utf-8")
            verdict = {"failed": "killed", "passed": "SURVIVED"}.get(outcome, "equivalent-or-timeout")
            killed += verdict == "killed"
            survived += verdict == "SURVIVED"
            other += verdict == "equivalent-or-timeout"
            print(f"[{number}/{len(sample)}] {verdict:22} {seconds:5.0f} s  {site.file}:{site.line} {site.what}", flush=True)
    total = time.monotonic() - started
    print(f"mutation score: {killed}/{len(sample)} killed, {survived} survived, {other} equivalent-or-timeout in {total:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
