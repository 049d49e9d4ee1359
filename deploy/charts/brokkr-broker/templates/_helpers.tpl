{{/*
Chart name, truncated to the 63 characters of a DNS label.
*/}}
{{- define "brokkr-broker.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full name of the release's objects: the release name, followed by the chart name
unless the release name already contains it.
*/}}
{{- define "brokkr-broker.fullname" -}}
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
Chart name and version, for the helm.sh/chart label.
*/}}
{{- define "brokkr-broker.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Labels of every object.
*/}}
{{- define "brokkr-broker.labels" -}}
helm.sh/chart: {{ include "brokkr-broker.chart" . }}
{{ include "brokkr-broker.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: broker
app.kubernetes.io/part-of: brokkr
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/*
Labels that select the broker's pods. They must never change between releases.
*/}}
{{- define "brokkr-broker.selectorLabels" -}}
app.kubernetes.io/name: {{ include "brokkr-broker.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "brokkr-broker.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "brokkr-broker.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "brokkr-broker.embedded" -}}
{{- if eq .Values.database.mode "embedded" }}true{{ end }}
{{- end }}

{{/*
The container image: the plain broker image, or in embedded mode the one that
carries the PostgreSQL programs.
*/}}
{{- define "brokkr-broker.image" -}}
{{- $tag := .Values.image.tag | default .Chart.AppVersion | toString }}
{{- if include "brokkr-broker.embedded" . }}
{{- $e := .Values.database.embedded.image }}
{{- $repo := $e.repository | default .Values.image.repository }}
{{- $etag := $e.tag | default (printf "%s%s" $tag $e.tagSuffix) | toString }}
{{- printf "%s:%s" $repo $etag }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository $tag }}
{{- end }}
{{- end }}

{{/*
The Secret the chart creates for values given inline (database URL, admin PAK hash).
*/}}
{{- define "brokkr-broker.secretName" -}}
{{- include "brokkr-broker.fullname" . }}
{{- end }}

{{/*
The Secret the chart creates for the webhook encryption key.
*/}}
{{- define "brokkr-broker.webhookKeySecretName" -}}
{{- printf "%s-webhook-key" (include "brokkr-broker.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Whether the chart creates its own Secret, and with which keys.
*/}}
{{- define "brokkr-broker.ownSecretData" -}}
{{- if and (not (include "brokkr-broker.embedded" .)) (not .Values.database.external.existingSecret) .Values.database.external.url }}
database-url: {{ .Values.database.external.url | b64enc | quote }}
{{- end }}
{{- if and (not .Values.adminPak.existingSecret) .Values.adminPak.hash }}
pak-hash: {{ .Values.adminPak.hash | lower | b64enc | quote }}
{{- end }}
{{- end }}

{{/*
Whether the chart creates the webhook key Secret.
*/}}
{{- define "brokkr-broker.ownWebhookKey" -}}
{{- $w := .Values.webhookEncryptionKey }}
{{- if and (not $w.existingSecret) (or $w.value $w.generate) }}true{{ end }}
{{- end }}

{{/*
Names of the environment variables the chart sets itself; `env` may not repeat them.
*/}}
{{- define "brokkr-broker.reservedEnv" -}}
BROKKR__BROKER__LISTEN_ADDR BROKKR__DATABASE__URL BROKKR__DATABASE__SCHEMA BROKKR__DATABASE__MAX_CONNECTIONS BROKKR__DATABASE__DATA_DIR BROKKR__BROKER__PAK_HASH BROKKR__BROKER__ADMIN_KEY_FILE BROKKR__BROKER__WEBHOOK_ENCRYPTION_KEY BROKKR__LOG__LEVEL BROKKR__LOG__FORMAT BROKKR__BROKER__CONFIG_WATCH BROKKR_CONFIG_FILE
{{- end }}

{{/*
The ConfigMap holding the configuration file.
*/}}
{{- define "brokkr-broker.configMapName" -}}
{{- printf "%s-config" (include "brokkr-broker.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The configuration file (YAML): `config`, with log.level and broker.config_watch from the
chart's own values.
*/}}
{{- define "brokkr-broker.configFile" -}}
{{- $cfg := deepCopy (.Values.config | default dict) }}
{{- $_ := set $cfg "log" (merge (dict "level" .Values.log.level) (get $cfg "log" | default dict)) }}
{{- $_ = set $cfg "broker" (merge (dict "config_watch" .Values.configFile.watch) (get $cfg "broker" | default dict)) }}
{{- toYaml $cfg }}
{{- end }}

{{/*
The keys a running broker applies on reload (BrokerHotKeys in internal/config, the "Hot"
column of docs/configuration.md).
*/}}
{{- define "brokkr-broker.hotKeys" -}}
log.level broker.diagnostic_cleanup_interval_seconds broker.diagnostic_max_age_hours broker.webhook_delivery_interval_seconds broker.webhook_delivery_batch_size broker.webhook_cleanup_retention_days cors.allowed_origins cors.max_age_seconds cors.allowed_methods cors.allowed_headers broker.auth_cache_ttl_seconds broker.work_order_maintenance_interval_seconds broker.audit_log_retention_days broker.audit_cleanup_interval_seconds broker.agent_event_retention_days broker.agent_event_cleanup_interval_seconds broker.telemetry_eviction_interval_seconds broker.fleet_sweep_interval_seconds broker.webhook_claim_ttl_seconds broker.rollout_interval_seconds
{{- end }}

{{/*
The part of the configuration file that needs a restart: the file without its hot keys, as
JSON. Its checksum on the pod template rolls the pods when, and only when, it changes.
*/}}
{{- define "brokkr-broker.restartConfig" -}}
{{- $file := include "brokkr-broker.configFile" . | fromYaml }}
{{- range splitList " " (include "brokkr-broker.hotKeys" .) }}
{{- $section := get $file (first (splitList "." .)) }}
{{- if kindIs "map" $section }}
{{- $_ := unset $section (last (splitList "." .)) }}
{{- end }}
{{- end }}
{{- range $name, $section := $file }}
{{- if not $section }}
{{- $_ := unset $file $name }}
{{- end }}
{{- end }}
{{- toJson $file }}
{{- end }}

{{/*
Keys `config` may not hold, with the reason: secrets, and what the chart sets itself.
*/}}
{{- define "brokkr-broker.configRefused" -}}
database.url: is a secret and never goes into the ConfigMap; use database.external.existingSecret (or database.external.url)
broker.pak_hash: is a secret and never goes into the ConfigMap; use adminPak.existingSecret (or adminPak.hash)
broker.webhook_encryption_key: is a secret and never goes into the ConfigMap; use webhookEncryptionKey
database.schema: is set by the chart; use database.schema
database.max_connections: is set by the chart; use database.maxConnections
database.data_dir: is set by the chart (the embedded database lives in its volume)
broker.listen_addr: is set by the chart (the container listens on port 3000)
broker.admin_key_file: is set by the chart
broker.config_watch: is set by the chart; use configFile.watch
log.level: is set by the chart; use log.level
log.format: is set by the chart; use log.format
{{- end }}

{{/*
Whether the PodDisruptionBudget uses maxUnavailable.
*/}}
{{- define "brokkr-broker.pdbMaxUnavailable" -}}
{{- $max := .Values.podDisruptionBudget.maxUnavailable }}
{{- if and (not (kindIs "invalid" $max)) (ne (toString $max) "") }}true{{ end }}
{{- end }}

{{/*
Checks of `config`, the configuration file's settings. Renders nothing.
*/}}
{{- define "brokkr-broker.validateConfig" -}}
{{- if and .Values.config (not .Values.configFile.enabled) }}
{{- fail "config is written to the configuration file: it needs configFile.enabled=true (or move the settings to env)" }}
{{- end }}
{{- $refused := include "brokkr-broker.configRefused" . | fromYaml }}
{{- range $section, $keys := .Values.config }}
{{- if not (kindIs "map" $keys) }}
{{- fail (printf "config.%s must be a section of keys (docs/configuration.md)" $section) }}
{{- end }}
{{- range $key, $_ := $keys }}
{{- with get $refused (printf "%s.%s" $section $key) }}
{{- fail (printf "config.%s.%s %s" $section $key .) }}
{{- end }}
{{- end }}
{{- end }}
{{- /* An environment variable overrides the file, and a reload reads the same variable again. */}}
{{- range $name, $_ := .Values.env }}
{{- if hasPrefix "BROKKR__" $name }}
{{- $node := $.Values.config }}
{{- $found := true }}
{{- range splitList "__" (trimPrefix "BROKKR__" $name | lower) }}
{{- if and $found (kindIs "map" $node) (hasKey $node .) }}
{{- $node = index $node . }}
{{- else }}
{{- $found = false }}
{{- end }}
{{- end }}
{{- if $found }}
{{- fail (printf "env.%s overrides the same key in config, which would never apply; set it in one place" $name) }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Checks of the values that the schema cannot express. Renders nothing.
*/}}
{{- define "brokkr-broker.validate" -}}
{{- $db := .Values.database }}
{{- if not (has $db.mode (list "external" "embedded")) }}
{{- fail (printf "database.mode must be external or embedded (got %q)" $db.mode) }}
{{- end }}
{{- if include "brokkr-broker.embedded" . }}
{{- if ne (int .Values.replicaCount) 1 }}
{{- fail (printf "database.mode=embedded runs one PostgreSQL in one pod: replicaCount must be 1 (got %v)" .Values.replicaCount) }}
{{- end }}
{{- else if not (or $db.external.existingSecret $db.external.url) }}
{{- fail "database.mode=external needs the PostgreSQL URL: set database.external.existingSecret (a Secret with the URL under database.external.existingSecretKey) or database.external.url" }}
{{- end }}
{{- if and .Values.adminPak.hash (not (regexMatch "^[0-9a-fA-F]{64}$" .Values.adminPak.hash)) }}
{{- fail "adminPak.hash must be 64 hexadecimal characters (the SHA-256 of the PAK's long token)" }}
{{- end }}
{{- $w := .Values.webhookEncryptionKey }}
{{- if and $w.value (not (regexMatch "^[0-9a-fA-F]{64}$" $w.value)) }}
{{- fail "webhookEncryptionKey.value must be 64 hexadecimal characters (a 32-byte key)" }}
{{- end }}
{{- include "brokkr-broker.validateConfig" . }}
{{- $p := .Values.podDisruptionBudget }}
{{- if and $p.enabled (not (include "brokkr-broker.pdbMaxUnavailable" .)) (regexMatch "^[0-9]+$" (toString $p.minAvailable)) (ge (int $p.minAvailable) (int .Values.replicaCount)) }}
{{- fail (printf "podDisruptionBudget.minAvailable=%v with replicaCount=%v would forbid every voluntary eviction (node drains would hang): lower it, or set maxUnavailable" $p.minAvailable .Values.replicaCount) }}
{{- end }}
{{- $reserved := splitList " " (include "brokkr-broker.reservedEnv" .) }}
{{- range $name, $_ := .Values.env }}
{{- if has $name $reserved }}
{{- fail (printf "env.%s is set by the chart; use its own value instead (see values.yaml)" $name) }}
{{- end }}
{{- end }}
{{- end }}
