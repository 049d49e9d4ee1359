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
BROKKR__BROKER__LISTEN_ADDR BROKKR__DATABASE__URL BROKKR__DATABASE__SCHEMA BROKKR__DATABASE__MAX_CONNECTIONS BROKKR__DATABASE__DATA_DIR BROKKR__BROKER__PAK_HASH BROKKR__BROKER__ADMIN_KEY_FILE BROKKR__BROKER__WEBHOOK_ENCRYPTION_KEY BROKKR__LOG__LEVEL BROKKR__LOG__FORMAT
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
{{- $reserved := splitList " " (include "brokkr-broker.reservedEnv" .) }}
{{- range $name, $_ := .Values.env }}
{{- if has $name $reserved }}
{{- fail (printf "env.%s is set by the chart; use its own value instead (see values.yaml)" $name) }}
{{- end }}
{{- end }}
{{- end }}
