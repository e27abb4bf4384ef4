"""`contract-report.html`: one self-contained page (no scripts) of a run's contract summary.

Rendered from the same document `observations.write_summary` writes as JSON: the target and
run, the failures grouped by rule and situation, the rule × operation matrix, the allowed
behaviours observed (with their alternatives and pins) and drift. Secrets are redacted.
"""

from __future__ import annotations

import os
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from . import rules, spec
from .redaction import redact

REPORT_NAME = "contract-report.html"

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px;color:#1d232a;max-width:1400px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #d0d7de;padding-bottom:4px}
.banner{padding:10px 14px;border-radius:6px;font-size:16px;font-weight:600;margin:12px 0}
.ok{background:#dafbe1;color:#116329}.bad{background:#ffebe9;color:#a40e26}
dl.run{display:grid;grid-template-columns:max-content auto;gap:2px 16px;margin:8px 0}dl.run dt{color:#57606a}dl.run dd{margin:0}
table{border-collapse:collapse;margin:6px 0}th,td{border:1px solid #d0d7de;padding:4px 8px;vertical-align:top;text-align:left}
th{background:#f6f8fa;font-weight:600}table.matrix{table-layout:auto;width:100%}table.matrix th:first-child{width:360px}th.op{font-size:13px;text-align:center}th.op .sum{font-size:11px}
td.c{text-align:center;white-space:nowrap;font-weight:600}
td.passed{background:#dafbe1;color:#116329}td.failed{background:#ff8182;color:#5c0011}td.none{background:#f6f8fa;color:#8c959f;font-weight:400}
.rid{font-family:ui-monospace,Menlo,Consolas,monospace;font-weight:600;font-size:13px}.sum{color:#57606a;font-size:12px}
.kind{display:inline-block;border-radius:3px;padding:0 5px;font-size:12px;font-weight:700;background:#ddf4ff;color:#0550ae}
.kind.A{background:#fff8c5;color:#7d4e00}
.alt{display:inline-block;border:1px solid #d0d7de;border-radius:10px;padding:0 8px;margin:1px 2px;font-size:12px;color:#8c959f}
.alt.seen{border-color:#1a7f37;color:#116329;background:#dafbe1;font-weight:600}.alt.pin{outline:2px solid #0969da}
.group{border:1px solid #ff8182;border-left:6px solid #cf222e;border-radius:6px;padding:8px 12px;margin:12px 0}
.group h3{margin:0 0 4px;font-size:15px}
pre{background:#f6f8fa;border:1px solid #d0d7de;border-radius:4px;padding:8px;white-space:pre-wrap;word-break:break-all;
font:12px/1.4 ui-monospace,Menlo,Consolas,monospace;margin:6px 0}
.muted{color:#57606a}.legend span{margin-right:12px}
th{word-break:normal;overflow-wrap:normal;hyphens:none}th.op{white-space:nowrap}th.op .sum{white-space:normal;overflow-wrap:normal}
a.rule-link{color:inherit;text-decoration:none;border-bottom:1px dotted #57606a}a.rule-link:hover{border-bottom-style:solid}
.finding{margin:6px 0;padding:6px 10px;background:#fff8c5;border-radius:4px;font-weight:600}
.first{border:1px solid #cf222e;border-radius:6px;padding:8px 12px;margin:8px 0;background:#fff}
"""


def counts_line(doc: dict[str, Any]) -> str:
    """What the failures count, said once the same way everywhere: tests, groups, checks."""
    groups = doc.get("failure_groups", [])
    tests = {f["test"] for f in doc.get("call_failures", [])} | {f["test"] for f in doc.get("reported_failures", [])}
    total = doc.get("failures_total", sum(g.get("count", 0) for g in groups))
    return (f"{len(tests)} failed test(s); {len(groups)} failure group(s) (one per root cause); "
            f"{total} failed check(s)")


CONTRACT_DOC = "CONTRACT.md"


def rule_anchor(rule_id: str) -> str:
    """The anchor GitHub and GitLab give the rule's heading in CONTRACT.md (`### `rule.id` — D`): the heading's
    text lower-cased, punctuation (dots, backticks, the dash) dropped, spaces as hyphens."""
    rule = rules.RULES.get(rule_id)
    heading = f"{rule_id} — {rule.kind.value}" if rule is not None else rule_id
    kept = "".join(ch for ch in heading.lower() if ch.isalnum() or ch in "_- ")
    return kept.replace(" ", "-")


def contract_doc_link(report_dir: Path) -> str | None:
    """CONTRACT.md relative to the report directory, when the run's checkout has it (else no link)."""
    from .selfcheck import PROJECT_ROOT

    doc = PROJECT_ROOT / CONTRACT_DOC
    if not doc.is_file():
        return None
    return os.path.relpath(doc, report_dir.resolve())


def render(doc: dict[str, Any]) -> str:
    """The whole page for one summary document (header keys plus `observations.merge` output)."""
    failed = doc.get("failures_total", 0) or any(row.get("failed") for row in doc.get("checks", []))
    outcome = str(doc.get("outcome", "unknown"))
    banner_class = "bad" if failed or not outcome.startswith("passed") else "ok"

    banner = (f"{counts_line(doc)} — run {outcome}" if failed else f"No contract violation — run {outcome}")
    link = doc.get("contract_doc")
    others = [f'<a href="{escape(path)}">{escape(name)}</a>{what}' for name, path, what in (
        ("contract-summary.md", "contract-summary.md", ""), ("contract-summary.json", "contract-summary.json", ""),
        ("report.html", (doc.get("files") or {}).get("html"), " (every test)"),
        ("junit.xml", (doc.get("files") or {}).get("junit"), "")) if path]
    contract = (f'the headings of <a href="{escape(link)}">CONTRACT.md</a> (each rule id links to its own)'
                if link else "the headings of CONTRACT.md")
    body = [f"<h1>Contract report — CarrierX Conference v2 meeting rooms</h1>",
            f'<p class="banner {"ok" if doc.get("exit_status") == 0 else "bad"}">{escape(first_line(doc))}</p>',
            f'<div class="banner {banner_class}">{escape(banner)}</div>', _first_failure(doc), _run_facts(doc),
            f'<p class="muted">Rule ids are {contract}. Also written: {", ".join(others)}.</p>',
            "<h2>Failures</h2>", _failures(doc), "<h2>Rules × operations</h2>", _matrix(doc),
            "<h2>Allowed behaviours observed</h2>", _behaviours(doc),
            "<h2>Drift (undocumented fields or status codes in live responses)</h2>", _drift(doc),
            "<h2>Not checked (a check that could not run on this target)</h2>", _not_checked(doc)]
    first = f"<!-- {_comment(first_line(doc))} -->"
    return (f'{first}\n<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>Contract report {escape(str(doc.get("run_id", "")))}'
            f"</title><style>{_CSS}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n")


def first_line(doc: dict[str, Any]) -> str:
    """What the page's first line says: the target (embedded mock or the URL), the status, the run."""
    return (f"contract run against {public_target(doc)}: exit {doc.get('exit_status', '?')} "
            f"({doc.get('status', doc.get('outcome', '?'))}), run id {doc.get('run_id', '?')}")


def _comment(text: str) -> str:
    return escape(text, quote=False).replace("--", "- -")


def write_report(doc: dict[str, Any], directory: Path, redactor: Any = None) -> Path:
    """Write `contract-report.html` into `directory` (secrets redacted); returns its path."""
    path = directory / REPORT_NAME
    path.write_text(redact(render(doc), redactor), encoding="utf-8")
    return path


def public_target(doc: dict[str, Any]) -> str:
    """The target without any user:password@ a URL may carry."""
    target = str(doc.get("target", "?"))
    parts = urlsplit(target)
    if parts.scheme and parts.hostname and "@" in parts.netloc:
        netloc = parts.hostname + (f":{parts.port}" if parts.port else "")
        return urlunsplit(parts._replace(netloc=netloc))
    return target


def _first_failure(doc: dict[str, Any]) -> str:
    """The run's first failure, as the terminal's FIRST FAILURE line and first failure block name it."""
    first = doc.get("first_failure")
    if not first:
        return ""
    group = f' (<a href="#group-{first["group"]}">group {first["group"]}</a>)' if first.get("group") else ""
    return (f'<div class="first"><b>First failure</b>{group}: <code>{escape(str(first.get("test")))}</code><br>'
            f'{escape(str(first.get("headline", "")))}</div>')


def _run_facts(doc: dict[str, Any]) -> str:
    duration = doc.get("duration_seconds")
    pins = doc.get("pins") or {}
    facts = [("Target", public_target(doc)), ("Spec", doc.get("spec", "?")),
             ("Started", doc.get("started_at", "?")), ("Hypothesis profile", doc.get("profile", "?")),
             ("Run id", doc.get("run_id", "?")),
             ("Duration", f"{duration:.1f} s" if isinstance(duration, (int, float)) else "?"),
             ("Requests sent", doc.get("requests_sent", "?")), ("Rooms created", doc.get("rooms_created", "?")),
             ("Rooms left behind", ", ".join(doc.get("rooms_left_behind") or []) or "none"),
             ("Rooms seen, not ours (not deleted)", ", ".join(r.get("sid", "?") for r in doc.get("rooms_not_ours") or []) or "none"),
             ("Concurrency", _concurrency(doc.get("workers"))),
             ("Pins", ", ".join(f"{name}={value}" for name, value in pins.items()) or "none")]
    return '<dl class="run">' + "".join(f"<dt>{escape(k)}</dt><dd>{escape(str(v))}</dd>" for k, v in facts) + "</dl>"


def _concurrency(workers: Any) -> str:
    if not isinstance(workers, int):
        return "?"
    return "serial (one process)" if workers == 0 else f"{workers} xdist workers"


def _rule_id(rule_id: str, doc: dict[str, Any]) -> str:
    """The rule id, linked to its heading in CONTRACT.md when the run knows where that is (`contract_doc`)."""
    span = f'<span class="rid">{escape(rule_id)}</span>'
    link = doc.get("contract_doc")
    if link and rule_id in rules.RULES:
        return f'<a class="rule-link" href="{escape(link)}#{escape(rule_anchor(rule_id))}">{span}</a>'
    return span


def _rule_label(rule_id: str, doc: dict[str, Any]) -> str:
    rule = rules.RULES.get(rule_id)
    if rule is None:
        return _rule_id(rule_id, doc)
    return (f'<span class="kind {rule.kind.value}" title="{"documented" if rule.kind.value == "D" else "allowed: the docs are silent"}">'
            f'{rule.kind.value}</span> {_rule_id(rule_id, doc)}<div class="sum">{escape(rule.summary)}</div>')


def _failures(doc: dict[str, Any]) -> str:
    """One box per root cause (rule and operation), in the reading order of the terminal: the group
    the first failing test showed first; its situations and its example (with its story) beneath."""
    groups = doc.get("failure_groups", [])
    out = [] if groups else ['<p class="ok banner">No failed check.</p>']
    if groups:
        out.append('<p class="sum">One group per root cause, in reading order: the first group is the one the first failing '
                   'test showed (the most specific concern runs first). A failure is listed under the most basic rule that '
                   'explains it (e.g. a PATCH that changed fields it did not send), with the rule each test saw it as. '
                   'Counts: failed checks (one request judged by one rule); tests that failed with it.</p>')
    for number, group in enumerate(groups, start=1):
        example, tests = group["example"], group["tests"]
        test_list = ", ".join(f"<code>{escape(t)}</code>" for t in tests[:5])
        if len(tests) > 5:
            test_list += f" and {len(tests) - 5} more"
        situations = group.get("situations") or [{"situation": group.get("situation", ""), "count": group["count"]}]
        rows = "".join(f"<li>{escape(s['situation'])} — {s['count']} failed check(s)</li>" for s in situations[:12])
        if len(situations) > 12:
            rows += f"<li>and {len(situations) - 12} more situation(s): see contract-summary.json</li>"
        finding = (f'<div class="finding">Root cause: {escape(group["finding"])}</div>' if group.get("finding") else "")
        out.append(f'<div class="group" id="group-{number}"><h3>{number}. {_rule_label(group["rule"], doc)}</h3>{finding}'
                   f'<div>on <code>{escape(group["operation"])}</code>: <b>{group["count"]} failed check(s)</b> in '
                   f'{len(tests)} test(s)</div><div class="sum">tests: {test_list or "?"}</div>'
                   f'<div class="sum">situations ({len(situations)}):</div><ul class="sum">{rows}</ul>'
                   f'<div class="sum">example{" (as the test " + escape(example["test"]) + " reported it)" if example.get("test") else ""}:</div>'
                   f'<pre>{escape(example.get("text") or example.get("summary", ""))}</pre>')
        if example.get("reproduction") and example["reproduction"] not in (example.get("text") or ""):
            out.append(f'<div class="sum">reproduce with:</div><pre>{escape(example["reproduction"])}</pre>')
        if example.get("failure_id"):
            out.append(f'<div class="sum">story: <a href="failures/{escape(example["failure_id"])}.json">'
                       f'failures/{escape(example["failure_id"])}.json</a></div>')
        out.append("</div>")
    others = [f for f in doc.get("call_failures", []) if not f.get("rules")]
    if others:
        out.append("<p>Tests that failed without a recorded contract violation (a fixture, the target being unreachable, "
                   "or a bug of the suite; see report.html):</p><ul>"
                   + "".join(f"<li><code>{escape(f['test'])}</code></li>" for f in others) + "</ul>")
    return "\n".join(out)


OTHER_METHODS = "other methods"
_METHOD_ORDER = ["PATCH", "PUT", "GET", "DELETE", "POST"]
_PATH_ORDER = ["/meeting_rooms/{sid}", "/meeting_rooms", "/did_groups"]


def _column(operation: str, spec_path: str | None = None) -> str:
    """The matrix column of an operation: a documented one (sids spelled `{sid}`), or 'other methods'."""
    method, _, path = operation.partition(" ")
    path = path.replace("{meeting_room_sid}", "{sid}")
    return f"{method} {path}" if (method, path) in _documented_operations(spec_path) else OTHER_METHODS


def _documented_operations(spec_path: str | None) -> set[tuple[str, str]]:
    """(METHOD, path with `{sid}`) of every operation the run's spec documents."""
    document = (spec.at(spec_path) if spec_path else spec.default()).document
    return {(m.upper(), p.replace("{meeting_room_sid}", "{sid}")) for p, item in document["paths"].items()
            for m in item if m != "parameters"}


def _column_key(column: str) -> tuple[int, int]:
    method, _, path = column.partition(" ")
    return (_PATH_ORDER.index(path) if path in _PATH_ORDER else len(_PATH_ORDER),
            _METHOD_ORDER.index(method) if method in _METHOD_ORDER else len(_METHOD_ORDER))


def _matrix(doc: dict[str, Any]) -> str:
    cells: dict[tuple[str, str], dict[str, int]] = {}
    others: set[str] = set()
    for row in doc.get("checks", []):
        column = _column(row["operation"], doc.get("spec_path"))
        if column == OTHER_METHODS:
            others.add(row["operation"])
        cell = cells.setdefault((row["rule"], column), {"run": 0, "passed": 0, "failed": 0})
        for key in cell:
            cell[key] += int(row.get(key, 0))
    columns = sorted({c for _, c in cells}, key=_column_key)
    head = "".join(f'<th class="op" title="{escape(", ".join(sorted(others)) if c == OTHER_METHODS else c)}">'
                   + (f"{escape(c)}<br><span class=\"sum\">{len(others)} undocumented</span>" if c == OTHER_METHODS else
                      f"{escape(c.partition(' ')[0])}<br><span class=\"sum\">{escape(c.partition(' ')[2]).replace('/{', '<wbr>/{')}</span>") + "</th>"
                   for c in columns)
    rows = []
    for rule_id in [*rules.RULES, *sorted({r for r, _ in cells} - set(rules.RULES))]:
        tds = []
        for column in columns:
            cell = cells.get((rule_id, column))
            if cell is None or not cell["run"]:
                tds.append('<td class="c none" title="not checked">–</td>')
            elif cell["failed"]:
                tds.append(f'<td class="c failed" title="failed {cell["failed"]} of {cell["run"]}">✗ {cell["failed"]}/{cell["run"]}</td>')
            else:
                tds.append(f'<td class="c passed" title="passed {cell["run"]} of {cell["run"]}">✓ {cell["run"]}</td>')
        rows.append(f'<tr><td class="rule">{_rule_label(rule_id, doc)}</td>{"".join(tds)}</tr>')
    legend = ('<p class="legend sum"><span>✓ n: n checks, all passed</span><span>✗ f/n: f of n checks failed</span>'
              '<span>–: not checked on this operation</span><span><span class="kind">D</span> documented</span>'
              '<span><span class="kind A">A</span> the docs are silent: several behaviours allowed</span></p>')
    return f'{legend}<table class="matrix"><tr><th>rule</th>{head}</tr>{"".join(rows)}</table>'


def _behaviours(doc: dict[str, Any]) -> str:
    observed = doc.get("behaviours", {})
    pins = doc.get("pins") or {}
    rows = []
    for name, behaviour in rules.BEHAVIOURS.items():
        seen = observed.get(name, {})
        alternatives = []
        for alternative in dict.fromkeys([*behaviour.alternatives, *seen]):
            classes = "alt" + (" seen" if alternative in seen else "") + (" pin" if pins.get(name) == alternative else "")
            count = f" ×{seen[alternative]}" if alternative in seen else ""
            pinned = " (pinned)" if pins.get(name) == alternative else ""
            alternatives.append(f'<span class="{classes}">{escape(alternative)}{count}{pinned}</span>')
        state = "" if seen else ' <span class="sum">not observed</span>'
        rows.append(f'<tr><td class="rid">{escape(name)}</td><td>{"".join(alternatives)}{state}</td>'
                    f'<td class="sum">{escape(behaviour.summary)}<br>rule <code>{escape(behaviour.rule)}</code></td></tr>')
    return ('<p class="sum">Green: alternatives the target was seen to pick (× how often); blue outline: pinned with --pin.</p>'
            f"<table><tr><th>behaviour</th><th>alternatives</th><th>what</th></tr>{''.join(rows)}</table>")


def _drift(doc: dict[str, Any]) -> str:
    drift = {kind: values for kind, values in doc.get("drift", {}).items() if values}
    if not drift:
        return "<p>None.</p>"
    return "<ul>" + "".join(f"<li><b>{escape(kind)}</b>: " + ", ".join(f"<code>{escape(v)}</code> ×{c}" for v, c in values.items())
                            + "</li>" for kind, values in drift.items()) + "</ul>"


def _not_checked(doc: dict[str, Any]) -> str:
    not_checked = {rule_id: values for rule_id, values in doc.get("not_checked", {}).items() if values}
    whole = doc.get("rules_not_checked") or {}
    checked = {row["rule"] for row in doc.get("checks", []) if row.get("run")}
    whole = {**{rule_id: "no check of it ran" for rule_id in rules.RULES if rule_id not in checked}, **whole}
    out = ""
    if whole:
        out = ("<p><b>Rules not checked at all in this run</b> (their matrix rows are empty):</p><ul class=\"bad\">"
               + "".join(f"<li>{_rule_label(rule_id, doc)}: {escape(why)}</li>" for rule_id, why in whole.items()) + "</ul>")
    if doc.get("incomplete"):
        out += "<p><b>Why this run is not complete</b>:</p><ul>" + "".join(
            f"<li>{escape(line)}</li>" for line in doc["incomplete"]) + "</ul>"
    if not not_checked:
        return out or "<p>None: every rule was checked, and every check that applied could run.</p>"
    return out + ('<ul class="bad">' + "".join(f"<li>{_rule_label(rule_id, doc)}: " + ", ".join(f"{escape(v)} ×{c}" for v, c in values.items())
                                          + "</li>" for rule_id, values in not_checked.items()) + "</ul>")


STALE_FILES = ("contract-summary.json", "contract-summary.md",
               "junit.xml", "report.html")  # the JUnit and pytest-html files a contract run writes there by default


def mark_stale(directory: Path, why: str) -> None:
    """A run that writes no contract report (yet) replaces the previous one with a page that says so,
    and removes the previous summaries: an earlier run's green page never passes for this run's."""
    path = directory / REPORT_NAME
    if not directory.is_dir():
        return
    for name in STALE_FILES:
        (directory / name).unlink(missing_ok=True)
    path.write_text(f"<!-- no contract run wrote this report: {escape(why)} -->\n<!DOCTYPE html>\n"
                    '<html lang="en"><head><meta charset="utf-8"><title>No contract report</title></head><body>'
                    f"<h1>No contract report</h1><p>No contract run wrote this report: {escape(why)}.</p>"
                    "<p>Run <code>pytest contracts</code> to write one.</p></body></html>\n", encoding="utf-8")
