#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""The metric names a Grafana dashboard's queries use all exist.

Usage: promql_names.py DASHBOARD.json RULES.yml METRICS.txt [PROM_URL]

Reads every PromQL expression of DASHBOARD (panel targets and template
variable queries), takes out the metric names, and fails on any that is
neither a series in METRICS.txt (a live /metrics page; NAME_bucket, _sum
and _count stand for histogram NAME) nor a series that RULES.yml records;
the expressions of the recording rules it uses are checked the same way.
With PROM_URL (a Prometheus that scrapes that metricd and loads RULES),
each panel query is also run through /api/v1/query and must return data.
Exit 0 when all is well, 1 otherwise."""
import json
import re
import sys
import urllib.parse
import urllib.request

# PromQL words that look like names: aggregation clauses, binary-operator
# keywords, and the functions and aggregations (always followed by "(").
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool",
            "and", "or", "unless", "offset", "atan2", "inf", "nan"}


def names(expr):
    """The metric names in one PromQL expression."""
    e = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)              # strings
    e = re.sub(r"\$\{?\w+\}?", "1m", e)                        # Grafana variables
    e = re.sub(r"\{[^}]*\}", "", e)                            # label matchers
    e = re.sub(r"\[[^\]]*\]", "", e)                           # ranges
    e = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", e)
    found = set()
    for m in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", e):
        word = m.group(0)
        rest = e[m.end():].lstrip()
        if rest.startswith("(") or word.lower() in KEYWORDS:
            continue
        if re.fullmatch(r"\d+[smhdwy]", word) or word[0].isdigit():
            continue
        found.add(word)
    return found


def rules(path):
    """{recorded name: expression} from a Prometheus rules file (the small
    YAML subset the shipped files use: 'record:' then 'expr:' lines, with
    '|' blocks)."""
    out, record, lines = {}, None, open(path).read().splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        m = re.match(r"\s*-?\s*record:\s*(\S+)", line)
        if m:
            record = m.group(1)
        m = re.match(r"(\s*)expr:\s*(.*)$", line)
        if m and record:
            expr = m.group(2)
            if expr.strip() == "|":
                block, indent = [], None
                while i + 1 < len(lines) and (not lines[i + 1].strip() or
                                              len(lines[i + 1]) - len(lines[i + 1].lstrip()) > len(m.group(1))):
                    i += 1
                    block.append(lines[i].strip())
                expr = " ".join(block)
            out[record] = expr
            record = None
        i += 1
    return out


def exposed(path):
    out = set()
    for line in open(path):
        if line.startswith("#") or not line.strip():
            continue
        name = re.match(r"[A-Za-z_:][A-Za-z0-9_:]*", line).group(0)
        out.add(name)
        for suffix in ("_bucket", "_sum", "_count"):
            if name.endswith(suffix):
                out.add(name[: -len(suffix)])
    return out


def queries(dash):
    """(title, expr) for every query of the dashboard."""
    out = []
    for p in dash.get("panels", []):
        for t in p.get("targets", []):
            out.append((p.get("title", "?"), t["expr"]))
    for v in dash.get("templating", {}).get("list", []):
        if v.get("type") == "query":
            q = v["query"]["query"] if isinstance(v["query"], dict) else v["query"]
            m = re.match(r"\s*label_values\((.*),\s*\w+\)\s*$", q)
            out.append((f"variable {v['name']}", m.group(1) if m else q))
    return out


def main():
    if len(sys.argv) not in (4, 5):
        sys.exit(__doc__)
    dash = json.load(open(sys.argv[1]))
    recorded = rules(sys.argv[2])
    live = exposed(sys.argv[3])
    bad = 0
    qs = queries(dash)
    if not qs:
        print("FAIL: no queries in the dashboard")
        return 1
    for title, expr in qs:
        for n in sorted(names(expr)):
            if n in live:
                continue
            if n in recorded:
                unknown = sorted(x for x in names(recorded[n]) if x not in live)
                if not unknown:
                    continue
                print(f"FAIL: {title}: {n} is recorded from unknown {', '.join(unknown)}")
            else:
                print(f"FAIL: {title}: {n} is neither in /metrics nor a recording rule")
            bad += 1
    print(f"{len(qs)} queries, names used: "
          + " ".join(sorted(set().union(*(names(e) for _, e in qs)))))
    if len(sys.argv) == 5:
        for title, expr in qs:
            if title.startswith("variable "):
                continue
            q = expr.replace('"$instance"', '".+"').replace("$__rate_interval", "1m")
            url = sys.argv[4] + "/api/v1/query?" + urllib.parse.urlencode({"query": q})
            with urllib.request.urlopen(url, timeout=10) as r:
                res = json.load(r)
            n = len(res.get("data", {}).get("result", []))
            if res.get("status") != "success" or n == 0:
                print(f"FAIL: {title}: {q} returned {res.get('status')} with {n} series")
                bad += 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
