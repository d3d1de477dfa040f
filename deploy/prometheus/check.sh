#!/usr/bin/env bash
# Checks Sweep's monitoring files with promtool (Debian package prometheus; installed by
# `bash deploy/services.sh --with-test-tools`):
#   1. the alert rules parse and are valid (`promtool check rules`);
#   2. every PromQL expression of the Grafana dashboard parses: each is written, with Grafana's
#      interval variables replaced, into a temporary rule file that `promtool check rules` checks;
#   3. the rules' unit tests pass (`promtool test rules deploy/prometheus/tests/*.yaml`).
# That every sweep_* name used here is served by the binaries is checked by the integration
# test metrics::the_dashboard_and_the_alerts_use_only_metrics_sweep_serves.
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v promtool >/dev/null 2>&1 || { echo "promtool missing: bash deploy/services.sh --with-test-tools" >&2; exit 1; }
command -v python3 >/dev/null 2>&1 || { echo "python3 missing" >&2; exit 1; }

rules=deploy/prometheus/sweep-rules.yaml
dashboard=deploy/grafana/sweep.json

promtool check rules "$rules"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 - "$dashboard" "$tmp/dashboard-rules.yaml" <<'PY'
import json, sys

dashboard, out = sys.argv[1], sys.argv[2]
with open(dashboard) as f:
    d = json.load(f)
for key in ("__inputs", "__requires"):
    assert d.get(key), f"{dashboard}: no {key} (export it for sharing)"
assert d.get("uid") == "sweep", f"{dashboard}: uid must be 'sweep'"
assert any(v.get("type") == "datasource" and v.get("name") == "datasource" for v in d["templating"]["list"]), \
    f"{dashboard}: no datasource template variable"

# Grafana's own variables are not PromQL; give them values of the right type.
variables = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "1h", "${__range}": "1h"}

def panels(ps):
    for p in ps:
        yield p
        yield from panels(p.get("panels", []))

exprs = []
for p in panels(d["panels"]):
    if p.get("type") == "row":
        continue
    assert p.get("datasource", {}).get("uid") == "${datasource}", f"panel {p['title']!r}: not on ${{datasource}}"
    for t in p.get("targets", []):
        expr = t["expr"]
        for name, value in variables.items():
            expr = expr.replace(name, value)
        assert "$" not in expr, f"panel {p['title']!r}: unknown variable in {expr}"
        exprs.append((p["title"], t["refId"], expr))
assert exprs, f"{dashboard}: no expressions"
with open(out, "w") as f:
    f.write("groups:\n  - name: dashboard\n    rules:\n")
    for i, (title, ref, expr) in enumerate(exprs):
        f.write(f"      - record: dashboard:panel_{i}\n")
        f.write(f"        # {title} / {ref}\n")
        f.write(f"        expr: {json.dumps(expr)}\n")
print(f"{dashboard}: {len(exprs)} expressions")
PY
promtool check rules "$tmp/dashboard-rules.yaml"

promtool test rules deploy/prometheus/tests/*.yaml
