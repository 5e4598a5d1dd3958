{{/* Names and labels. */}}
{{- define "eventrouter.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "eventrouter.fullname" -}}
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

{{/* The name of one role's objects: <fullname>-<role>. Kept short enough that a
StatefulSet pod name (plus "-NN" and the controller-revision label) fits in 63. */}}
{{- define "eventrouter.roleName" -}}
{{- printf "%s-%s" (include "eventrouter.fullname" .root) .role | trunc 52 | trimSuffix "-" }}
{{- end }}

{{- define "eventrouter.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ include "eventrouter.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* Selector labels of one role (dict "root" $ "role" "sender"). */}}
{{- define "eventrouter.selectorLabels" -}}
app.kubernetes.io/name: {{ include "eventrouter.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .role }}
{{- end }}

{{- define "eventrouter.roleLabels" -}}
{{ include "eventrouter.labels" .root }}
app.kubernetes.io/component: {{ .role }}
{{- end }}

{{- define "eventrouter.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{- define "eventrouter.secretName" -}}
{{- if .Values.secrets.existingSecret }}
{{- .Values.secrets.existingSecret }}
{{- else if .Values.secrets.env }}
{{- include "eventrouter.fullname" . }}
{{- end }}
{{- end }}

{{/* The deliveries topic's partition count: config.topics.partitions, else the built-in
default (config.Default(); the chart's Go test checks they agree). */}}
{{- define "eventrouter.partitions" -}}
{{- dig "topics" "partitions" 12 .Values.config | int }}
{{- end }}

{{/* Fails on configuration the chart sets itself, so a value is never silently
overridden. */}}
{{- define "eventrouter.checkConfig" -}}
{{- if dig "kafka" "instance_id" "" .Values.config }}
{{- fail "config.kafka.instance_id: the chart sets it to each router and sender pod's name (static membership); remove it" }}
{{- end }}
{{- if dig "ops" "listen" "" .Values.config }}
{{- fail "config.ops.listen: set opsPort instead (the probes and the ServiceMonitor use it)" }}
{{- end }}
{{- if dig "api" "listen" "" .Values.config }}
{{- fail "config.api.listen: set api.port instead (the Service uses it)" }}
{{- end }}
{{- end }}
