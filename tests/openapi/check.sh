#!/usr/bin/env bash
# Checks Sweep's OpenAPI document against a running API:
#   1. openapi-spec-validator: the document is valid OpenAPI 3.1;
#   2. schemathesis: generated requests to every documented operation never get a 5xx
#      (`not_a_server_error`) and every answer matches its documented schema
#      (`response_schema_conformance`).
#
#   bash tests/openapi/check.sh BASE_URL USER PASSWORD
#   e.g. bash tests/openapi/check.sh http://127.0.0.1:8080/engine-rest demo demo
#
# It starts nothing: the API (with a database and a broker) must be running. The PyPI packages go
# into a virtual environment cached under ${XDG_CACHE_HOME:-$HOME/.cache}/sweep-openapi (created
# on first use; pip needs to reach PyPI then). SCHEMATHESIS_MAX_EXAMPLES (cases per operation
# and phase, default 10) bounds the run; SCHEMATHESIS_SEED fixes its seed.
# One worker thread: CPython 3.11 before 3.11.8 keeps the AST constructor's recursion depth in
# process-wide state, so parallel threads in hypothesis fail with "AST constructor recursion depth
# mismatch".
set -euo pipefail

if [ $# -ne 3 ]; then
    echo "usage: $0 BASE_URL USER PASSWORD" >&2
    exit 2
fi
base=${1%/}
user=$2
password=$3

OPENAPI_SPEC_VALIDATOR_VERSION=0.9.0
SCHEMATHESIS_VERSION=4.32.5
venv=${XDG_CACHE_HOME:-$HOME/.cache}/sweep-openapi/venv-$OPENAPI_SPEC_VALIDATOR_VERSION-$SCHEMATHESIS_VERSION

if [ ! -x "$venv/bin/schemathesis" ]; then
    echo "==> installing openapi-spec-validator $OPENAPI_SPEC_VALIDATOR_VERSION and schemathesis $SCHEMATHESIS_VERSION into $venv" >&2
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check \
        "openapi-spec-validator==$OPENAPI_SPEC_VALIDATOR_VERSION" "schemathesis==$SCHEMATHESIS_VERSION"
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "==> fetching $base/openapi.json" >&2
curl --fail --silent --show-error --max-time 30 -o "$work/openapi.json" "$base/openapi.json"

echo "==> openapi-spec-validator" >&2
"$venv/bin/openapi-spec-validator" "$work/openapi.json"

echo "==> schemathesis" >&2
seed=()
if [ -n "${SCHEMATHESIS_SEED:-}" ]; then
    seed=(--seed "$SCHEMATHESIS_SEED")
fi
cd "$work"
"$venv/bin/schemathesis" run "$work/openapi.json" \
    --url "$base" \
    --auth "$user:$password" \
    --checks not_a_server_error,response_schema_conformance \
    --phases examples,coverage,fuzzing \
    --max-examples "${SCHEMATHESIS_MAX_EXAMPLES:-10}" \
    --request-timeout 30 \
    --workers 1 \
    --suppress-health-check all \
    --no-color \
    "${seed[@]}"
