"""Splits one `helm template` output for deploy/check.sh and checks Sweep's config in it.

python inspect_rendered.py RENDERED.yaml DEFAULTS.toml OUT_PREFIX [--only-defaults]

Writes OUT_PREFIX.core.yaml (objects of Kubernetes' own API groups, for kubernetes-validate) and
OUT_PREFIX.crs.json (custom resources, for validate-crds.mjs). Every *.json in a ConfigMap (the
dashboard) must parse. Every sweep.toml in a ConfigMap must parse and use only keys of
DEFAULTS.toml, with values of the same type; with --only-defaults (the chart's default values)
also the same values, so values.yaml never drifts from the built-in defaults it repeats.
"""

import json
import sys
import tomllib

import yaml

CORE_GROUPS = {"", "apps", "batch", "policy", "autoscaling", "networking.k8s.io"}


def flatten(table, prefix=""):
    for key, value in table.items():
        if isinstance(value, dict):
            yield from flatten(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


def main(rendered, defaults_path, out, *flags):
    with open(defaults_path, "rb") as f:
        defaults = dict(flatten(tomllib.load(f)))
    core, crs, errors = [], [], []
    with open(rendered) as f:
        docs = [d for d in yaml.safe_load_all(f) if d]
    if not docs:
        errors.append("nothing rendered")
    for doc in docs:
        group = doc["apiVersion"].rpartition("/")[0]
        (core if group in CORE_GROUPS else crs).append(doc)
        data = (doc.get("data") or {}) if doc["kind"] == "ConfigMap" else {}
        for key, text in data.items():
            if key.endswith(".json"):
                try:
                    json.loads(text)
                except ValueError as e:
                    errors.append(f"ConfigMap {doc['metadata']['name']}: {key}: {e}")
        toml = data.get("sweep.toml")
        if toml is None:
            continue
        name = doc["metadata"]["name"]
        try:
            settings = dict(flatten(tomllib.loads(toml)))
        except tomllib.TOMLDecodeError as e:
            errors.append(f"ConfigMap {name}: sweep.toml: {e}")
            continue
        for key, value in settings.items():
            if key not in defaults:
                errors.append(f"ConfigMap {name}: sweep.toml: unknown setting {key}")
            elif type(value) is not type(defaults[key]):
                errors.append(f"ConfigMap {name}: sweep.toml: {key} = {value!r} is not a {type(defaults[key]).__name__}")
            elif "--only-defaults" in flags and value != defaults[key]:
                errors.append(f"ConfigMap {name}: sweep.toml: {key} = {value!r}, but its default is {defaults[key]!r}")
    with open(f"{out}.core.yaml", "w") as f:
        yaml.safe_dump_all(core, f)
    with open(f"{out}.crs.json", "w") as f:
        json.dump(crs, f)
    for e in errors:
        print(f"{rendered}: {e}", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
