// Validates the custom resources the chart renders against their published schemas:
// node validate-crds.mjs FILE.json… (each file a JSON array of objects). Any other kind fails.
import { readFileSync } from "node:fs";
import { ScaledObject, TriggerAuthentication } from "@kubernetes-models/keda/keda.sh/v1alpha1";
import { PrometheusRule } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1";

const models = {
  "keda.sh/v1alpha1/ScaledObject": ScaledObject,
  "keda.sh/v1alpha1/TriggerAuthentication": TriggerAuthentication,
  "monitoring.coreos.com/v1/PrometheusRule": PrometheusRule,
};

let failures = 0;
let checked = 0;
for (const file of process.argv.slice(2)) {
  for (const doc of JSON.parse(readFileSync(file, "utf8"))) {
    const id = `${doc.apiVersion}/${doc.kind}`;
    const name = `${file}: ${doc.kind} ${doc.metadata?.name}`;
    const Model = models[id];
    if (!Model) {
      console.error(`${name}: no schema for ${id}`);
      failures++;
      continue;
    }
    try {
      new Model(doc).validate();
      checked++;
    } catch (err) {
      console.error(`${name}: ${err.message}`);
      failures++;
    }
  }
}
console.log(`custom resources: ${checked} valid, ${failures} invalid`);
process.exit(failures ? 1 : 0);
