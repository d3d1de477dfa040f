#!/usr/bin/env bash
# Regenerates what is derived from the Helm chart (deploy/helm/sweep), the source of truth:
# - the chart's copies of the monitoring files, from deploy/grafana/sweep.json and
#   deploy/prometheus/sweep-rules.yaml when they exist;
# - deploy/kubernetes/: the chart rendered with its default values, one file per template, and a
#   kustomization.yaml listing them.
# deploy/check.sh runs it and fails when the result differs from what is committed.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# shellcheck source=deploy/check/tools.sh
source deploy/check/tools.sh

chart=deploy/helm/sweep
[[ -f deploy/grafana/sweep.json ]] && cp deploy/grafana/sweep.json "$chart/files/sweep-dashboard.json"
[[ -f deploy/prometheus/sweep-rules.yaml ]] && cp deploy/prometheus/sweep-rules.yaml "$chart/files/sweep-rules.yaml"

"$HELM" template sweep "$chart" --namespace sweep --kube-version "$KUBE_MIN" --output-dir "$tmp/out" >/dev/null
out=deploy/kubernetes
rm -rf "$out"
mkdir -p "$out"
resources=()
for f in "$tmp/out/sweep/templates/"*.yaml; do
    name=$(basename "$f")
    {
        echo "# Rendered from the Helm chart deploy/helm/sweep with its default values by deploy/render.sh."
        echo "# Do not edit: change the chart and run deploy/render.sh."
        cat "$f"
    } >"$out/$name"
    resources+=("$name")
done
{
    echo "# Sweep with the Helm chart's default values (deploy/render.sh). Expects namespace \"sweep\""
    echo "# and Secret \"sweep-secrets\" (keys database-url, amqp-url) to exist: see deploy/helm/sweep/README.md."
    echo "apiVersion: kustomize.config.k8s.io/v1beta1"
    echo "kind: Kustomization"
    echo "resources:"
    printf '  - %s\n' "${resources[@]}"
} >"$out/kustomization.yaml"
echo "rendered $out/ (${#resources[@]} files)"
