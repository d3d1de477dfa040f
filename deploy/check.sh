#!/usr/bin/env bash
# Offline validation of the deployment files, run by .ci/run: the Helm chart with each value set
# (helm lint, helm template, kubernetes-validate against the oldest supported Kubernetes, the
# custom resources against their schemas, checkov), the chart's schema, the Dockerfile (hadolint)
# and that deploy/kubernetes/ and the chart's monitoring files are what deploy/render.sh makes.
# Installs its tools on first use (deploy/check/tools.sh). Any finding fails it.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# shellcheck source=deploy/check/tools.sh
source deploy/check/tools.sh

chart=deploy/helm/sweep
defaults=shared/src/settings/defaults.toml
# Value sets: the chart's defaults (what deploy/kubernetes/ holds) and those in ci/.
sets=(default minimal keda hardened)
values_args() { [[ $1 == default ]] || echo "--values=$chart/ci/$1-values.yaml"; }

# checkov checks skipped, the only place they are: "CHECK SETS…" with the reason above each.
# A check skipped for some sets only is met by the others (hardened shows the chart can).
checkov_skips=(
    # CPU limits throttle a worker in the middle of a deletion transaction and buy nothing on a
    # shared node: requests reserve the CPU, the memory limit bounds the pod.
    "CKV_K8S_11 default minimal keda hardened"
    # Sweep takes the database and broker URLs from SWEEP__DATABASE__URL / SWEEP__AMQP__URL only
    # (there is no setting naming a file); they come from secretKeyRef, never from the pod spec.
    "CKV_K8S_35 default minimal keda hardened"
    # A digest exists only once an image is built: image.digest pins it (hardened does); the
    # default is the chart's appVersion tag.
    "CKV_K8S_43 default minimal keda"
    # IfNotPresent with immutable version tags; with image.digest the check passes (hardened).
    "CKV_K8S_15 default minimal keda"
    # NetworkPolicies are opt-in (networkPolicy.enabled; DNS and database addresses differ per
    # cluster); hardened turns them on.
    "CKV2_K8S_6 default minimal keda"
)
skips_for() {
    local entry skips=()
    for entry in "${checkov_skips[@]}"; do
        [[ " ${entry#* } " == *" $1 "* ]] && skips+=("${entry%% *}")
    done
    (IFS=,; echo "${skips[*]}")
}

failed=0
fail() { echo "FAIL: $*" >&2; failed=1; }

grep -qx "kubeVersion: \">=${KUBE_MIN}-0\"" "$chart/Chart.yaml" ||
    fail "Chart.yaml kubeVersion is not \">=${KUBE_MIN}-0\" (KUBE_MIN in deploy/check/tools.sh)"

for set in "${sets[@]}"; do
    args=$(values_args "$set")
    out="$tmp/$set"
    # shellcheck disable=SC2086 # $args is one word or none
    "$HELM" lint --strict "$chart" $args --kube-version "$KUBE_MIN" --quiet >"$out.lint" 2>&1 ||
        { cat "$out.lint" >&2; fail "helm lint ($set)"; }
    # shellcheck disable=SC2086
    if ! "$HELM" template sweep "$chart" $args --namespace sweep --kube-version "$KUBE_MIN" >"$out.yaml" 2>"$out.err"; then
        cat "$out.err" >&2
        fail "helm template ($set)"
        continue
    fi
    only_defaults=()
    [[ $set == default ]] && only_defaults=(--only-defaults)
    "$PY" deploy/check/inspect_rendered.py "$out.yaml" "$defaults" "$out" "${only_defaults[@]}" ||
        fail "rendered objects or sweep.toml ($set)"
    # Warnings too: an object without a schema must not pass unchecked.
    report=$("$KUBERNETES_VALIDATE" --strict -k "$KUBE_MIN" --quiet "$out.core.yaml" 2>&1) && [[ -z $report ]] ||
        { echo "$report" >&2; fail "kubernetes-validate ($set)"; }
    # checkov runs once per distinct skip list, over all sets that share it.
    skips=$(skips_for "$set")
    mkdir -p "$tmp/checkov/$skips"
    cp "$out.yaml" "$tmp/checkov/$skips/$set.yaml"
done

for dir in "$tmp"/checkov/*/; do
    report=$(BC_SKIP_MAPPING=TRUE "$CHECKOV" -d "$dir" --framework kubernetes --skip-download --compact \
        --quiet --skip-check "$(basename "$dir")" 2>&1) && grep -q "Passed checks: [1-9]" <<<"$report" ||
        { echo "$report" >&2; fail "checkov ($(cd "$dir" && echo *.yaml))"; }
done

# Custom resources (KEDA, Prometheus Operator), all sets at once; the script sits beside its
# node_modules so that ESM resolution finds them.
cp deploy/check/validate-crds.mjs "$NODE_TOOLS/"
node "$NODE_TOOLS/validate-crds.mjs" "$tmp"/*.crs.json >"$tmp/crds.log" 2>&1 ||
    { cat "$tmp/crds.log" >&2; fail "custom resources"; }

# The schema refuses a wrong type.
if "$HELM" template sweep "$chart" --set worker.replicas=zero >/dev/null 2>"$tmp/schema.err" ||
    ! grep -q "/worker/replicas" "$tmp/schema.err"; then
    cat "$tmp/schema.err" >&2
    fail "values.schema.json accepted worker.replicas=zero"
fi

"$HADOLINT" --disable-ignore-pragma --failure-threshold style deploy/Dockerfile || fail "hadolint deploy/Dockerfile"

# Derived files are up to date: re-rendering changes no file and adds none (compared with the
# index, so staged results pass).
bash deploy/render.sh >/dev/null
derived=(deploy/kubernetes "$chart/files")
if ! git diff --exit-code --stat -- "${derived[@]}" >&2 ||
    [[ -n $(git ls-files --others --exclude-standard -- "${derived[@]}") ]]; then
    git ls-files --others --exclude-standard -- "${derived[@]}" | sed 's/^/new: /' >&2
    fail "deploy/kubernetes/ or $chart/files/ differ from deploy/render.sh's output: run it and commit"
fi

if ((failed)); then
    echo "deploy/check.sh: failed after $((SECONDS - start)) s" >&2
    exit 1
fi
echo "deploy/check.sh: chart (${sets[*]}), custom resources, schema, Dockerfile and rendered manifests OK in $((SECONDS - start)) s"
