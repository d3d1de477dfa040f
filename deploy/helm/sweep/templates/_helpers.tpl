{{/* Names */}}
{{- define "sweep.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "sweep.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "sweep.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "sweep.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "sweep.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* Labels. Call with (dict "root" $ "component" "api"). */}}
{{- define "sweep.selectorLabels" -}}
app.kubernetes.io/name: {{ include "sweep.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- with .component }}
app.kubernetes.io/component: {{ . }}
{{- end }}
{{- end -}}

{{- define "sweep.labels" -}}
helm.sh/chart: {{ include "sweep.chart" .root }}
{{ include "sweep.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/part-of: sweep
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
{{- with .root.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "sweep.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag -}}
{{- if .Values.image.digest -}}
{{- printf "%s:%s@%s" .Values.image.repository $tag .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository $tag -}}
{{- end -}}
{{- end -}}

{{/*
Seconds of a duration setting in the form the schema allows (Nms, Ns, Nm, Nh), rounded up.
*/}}
{{- define "sweep.seconds" -}}
{{- $d := toString . -}}
{{- if hasSuffix "ms" $d -}}
{{- div (add (trimSuffix "ms" $d | int64) 999) 1000 -}}
{{- else if hasSuffix "s" $d -}}
{{- trimSuffix "s" $d | int64 -}}
{{- else if hasSuffix "m" $d -}}
{{- mul (trimSuffix "m" $d | int64) 60 -}}
{{- else if hasSuffix "h" $d -}}
{{- mul (trimSuffix "h" $d | int64) 3600 -}}
{{- else -}}
{{- fail (printf "cannot read the duration %q (use Nms, Ns, Nm or Nh)" $d) -}}
{{- end -}}
{{- end -}}

{{/* Settings the chart derives from, with the built-in defaults of defaults.toml. */}}
{{- define "sweep.prefetch" -}}
{{- dig "amqp" "prefetch" 2 .Values.config | int64 -}}
{{- end -}}
{{- define "sweep.prefix" -}}
{{- dig "amqp" "prefix" "sweep" .Values.config -}}
{{- end -}}
{{- define "sweep.authMode" -}}
{{- dig "auth" "mode" "basic" .Values.config -}}
{{- end -}}

{{- define "sweep.api.terminationGracePeriodSeconds" -}}
{{- if kindIs "invalid" .Values.api.terminationGracePeriodSeconds -}}
{{- $request := include "sweep.seconds" (dig "http" "request_timeout" "60s" .Values.config) | int64 -}}
{{- add .Values.api.preStopSleepSeconds $request 10 -}}
{{- else -}}
{{- .Values.api.terminationGracePeriodSeconds -}}
{{- end -}}
{{- end -}}

{{- define "sweep.worker.terminationGracePeriodSeconds" -}}
{{- if kindIs "invalid" .Values.worker.terminationGracePeriodSeconds -}}
{{- $drain := include "sweep.seconds" (dig "worker" "shutdown_timeout" "30s" .Values.config) | int64 -}}
{{- add $drain 15 -}}
{{- else -}}
{{- .Values.worker.terminationGracePeriodSeconds -}}
{{- end -}}
{{- end -}}

{{/*
A TOML table: (dict "name" "section" "table" map). Scalars first, then sub-tables. Numbers are
written as integers (every numeric setting is one; Helm reads YAML numbers as floats).
*/}}
{{- define "sweep.tomlTable" -}}
{{- $table := .table -}}
[{{ .name }}]
{{- range $key := keys $table | sortAlpha }}
{{- $value := get $table $key }}
{{- if kindIs "map" $value }}
{{- else if kindIs "string" $value }}
{{ $key }} = {{ toJson $value }}
{{- else if kindIs "bool" $value }}
{{ $key }} = {{ $value }}
{{- else }}
{{ $key }} = {{ int64 $value }}
{{- end }}
{{- end }}
{{- range $key := keys $table | sortAlpha }}
{{- $value := get $table $key }}
{{- if kindIs "map" $value }}

{{ include "sweep.tomlTable" (dict "name" (printf "%s.%s" $.name $key) "table" $value) }}
{{- end }}
{{- end }}
{{- end -}}

{{- define "sweep.configToml" -}}
# Rendered by the Sweep chart from .Values.config: only what a deployment sets. Every other
# key keeps its built-in default (shared/src/settings/defaults.toml).
{{- range $section := keys .Values.config | sortAlpha }}

{{ include "sweep.tomlTable" (dict "name" $section "table" (get $.Values.config $section)) }}
{{- end }}
{{- end -}}

{{/* Pod- and container-level settings of the restricted Pod Security Standard. */}}
{{- define "sweep.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "sweep.containerSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
privileged: false
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* SWEEP_CONFIG and the URLs from the Secret. Call with (dict "root" $ "amqp" bool). */}}
{{- define "sweep.env" -}}
- name: SWEEP_CONFIG
  value: /etc/sweep/sweep.toml
- name: SWEEP__DATABASE__URL
  valueFrom:
    secretKeyRef:
      name: {{ .root.Values.connection.existingSecret }}
      key: {{ .root.Values.connection.databaseUrlKey }}
{{- if .amqp }}
- name: SWEEP__AMQP__URL
  valueFrom:
    secretKeyRef:
      name: {{ .root.Values.connection.existingSecret }}
      key: {{ .root.Values.connection.amqpUrlKey }}
{{- end }}
{{- end -}}

{{- define "sweep.configVolume" -}}
- name: config
  configMap:
    name: {{ .name }}
- name: tmp
  emptyDir:
    sizeLimit: 64Mi
{{- end -}}

{{- define "sweep.configVolumeMounts" -}}
- name: config
  mountPath: /etc/sweep
  readOnly: true
- name: tmp
  mountPath: /tmp
{{- end -}}

{{- define "sweep.metricsAnnotations" -}}
{{- if .root.Values.metrics.podAnnotations -}}
prometheus.io/scrape: "true"
prometheus.io/port: {{ .port | quote }}
prometheus.io/path: /metrics
{{- end -}}
{{- end -}}

{{/* DNS egress rule of the NetworkPolicies. */}}
{{- define "sweep.dnsEgress" -}}
- to:
    - namespaceSelector:
        {{- toYaml .Values.networkPolicy.dns.namespaceSelector | nindent 8 }}
      podSelector:
        {{- toYaml .Values.networkPolicy.dns.podSelector | nindent 8 }}
  ports:
    - protocol: UDP
      port: 53
    - protocol: TCP
      port: 53
{{- end -}}

{{/* An egress rule to (dict "port" n "to" peers). */}}
{{- define "sweep.egressTo" -}}
- ports:
    - protocol: TCP
      port: {{ .port }}
  {{- with .to }}
  to:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end -}}
