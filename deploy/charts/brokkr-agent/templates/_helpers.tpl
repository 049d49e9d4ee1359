{{/*
Chart name, truncated to the 63 characters of a DNS label.
*/}}
{{- define "brokkr-agent.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full name of the release's objects: the release name, followed by the chart name
unless the release name already contains it.
*/}}
{{- define "brokkr-agent.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Name of the ClusterRole and ClusterRoleBinding. They are cluster-wide, so the
namespace is part of the name: two releases of the same name in different
namespaces must not share them.
*/}}
{{- define "brokkr-agent.clusterRoleName" -}}
{{- printf "%s-%s" (include "brokkr-agent.fullname" .) .Release.Namespace | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Chart name and version, for the helm.sh/chart label.
*/}}
{{- define "brokkr-agent.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Labels of every object.
*/}}
{{- define "brokkr-agent.labels" -}}
helm.sh/chart: {{ include "brokkr-agent.chart" . }}
{{ include "brokkr-agent.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: agent
app.kubernetes.io/part-of: brokkr
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/*
Labels that select the agent's pod. They must never change between releases.
*/}}
{{- define "brokkr-agent.selectorLabels" -}}
app.kubernetes.io/name: {{ include "brokkr-agent.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "brokkr-agent.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "brokkr-agent.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "brokkr-agent.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion | toString) }}
{{- end }}

{{/*
The Secret the chart creates when the PAK is given as a value.
*/}}
{{- define "brokkr-agent.secretName" -}}
{{- include "brokkr-agent.fullname" . }}
{{- end }}

{{/*
Whether a Service fronts the health port.
*/}}
{{- define "brokkr-agent.metricsService" -}}
{{- if or .Values.metrics.service.enabled .Values.metrics.serviceMonitor.enabled }}true{{ end }}
{{- end }}

{{/*
Names of the environment variables the chart sets itself; `env` may not repeat them.
*/}}
{{- define "brokkr-agent.reservedEnv" -}}
BROKKR__AGENT__BROKER_URL BROKKR__AGENT__PAK BROKKR__AGENT__AGENT_NAME BROKKR__AGENT__CLUSTER_NAME BROKKR__AGENT__POLLING_INTERVAL BROKKR__AGENT__HEALTH_PORT BROKKR__AGENT__HEALTH_ADDR BROKKR__AGENT__WATCH_NAMESPACE BROKKR__LOG__LEVEL BROKKR__LOG__FORMAT BROKKR_CONFIG_FILE
{{- end }}

{{/*
The ConfigMap holding the configuration file.
*/}}
{{- define "brokkr-agent.configMapName" -}}
{{- printf "%s-config" (include "brokkr-agent.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The port of broker.url: the one it names, else the scheme's.
*/}}
{{- define "brokkr-agent.brokerPort" -}}
{{- $u := urlParse .Values.broker.url }}
{{- regexFind "[0-9]+$" (regexFind ":[0-9]+$" $u.host) | default (ternary "443" "80" (eq $u.scheme "https")) }}
{{- end }}

{{/*
The keys of the configuration file the chart sets from its own values, as environment
variables (which override the file), and the agent's secret.
*/}}
{{- define "brokkr-agent.configRefused" -}}
{{- $keys := list }}
{{- range splitList " " (include "brokkr-agent.reservedEnv" .) }}
{{- if hasPrefix "BROKKR__" . }}
{{- $keys = append $keys (trimPrefix "BROKKR__" . | lower | replace "__" ".") }}
{{- end }}
{{- end }}
{{- join " " $keys }}
{{- end }}

{{/*
Checks of the values that the schema cannot express. Renders nothing.
*/}}
{{- define "brokkr-agent.validate" -}}
{{- if not .Values.broker.url }}
{{- fail "broker.url is required: the broker's base URL, for example http://brokkr-broker.brokkr.svc:3000" }}
{{- end }}
{{- if not (regexMatch "^https?://[^/]+" .Values.broker.url) }}
{{- fail (printf "broker.url must be an http:// or https:// URL (got %q)" .Values.broker.url) }}
{{- end }}
{{- if not (or .Values.pak.existingSecret .Values.pak.value) }}
{{- fail "the agent needs its PAK: set pak.existingSecret (a Secret with the PAK under pak.existingSecretKey) or pak.value" }}
{{- end }}
{{- if not .Values.agentName }}
{{- fail "agentName is required: the name of the agent's record at the broker" }}
{{- end }}
{{- if not .Values.clusterName }}
{{- fail "clusterName is required: the cluster name of the agent's record at the broker" }}
{{- end }}
{{- $reserved := splitList " " (include "brokkr-agent.reservedEnv" .) }}
{{- range $name, $_ := .Values.env }}
{{- if has $name $reserved }}
{{- fail (printf "env.%s is set by the chart; use its own value instead (see values.yaml)" $name) }}
{{- end }}
{{- end }}
{{- $refused := splitList " " (include "brokkr-agent.configRefused" .) }}
{{- range $section, $keys := .Values.config }}
{{- if not (kindIs "map" $keys) }}
{{- fail (printf "config.%s must be a section of keys (docs/configuration.md)" $section) }}
{{- end }}
{{- range $key, $_ := $keys }}
{{- $dotted := printf "%s.%s" $section $key }}
{{- if eq $dotted "agent.pak" }}
{{- fail "config.agent.pak is a secret and never goes into the ConfigMap; use pak.existingSecret (or pak.value)" }}
{{- else if has $dotted $refused }}
{{- fail (printf "config.%s is set by the chart, which would override it; use the chart's own value (see values.yaml)" $dotted) }}
{{- else if hasKey $.Values.env (printf "BROKKR__%s__%s" $section $key | upper) }}
{{- fail (printf "env.%s overrides config.%s; set it in one place" (printf "BROKKR__%s__%s" $section $key | upper) $dotted) }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
