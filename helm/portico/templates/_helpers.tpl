{{/* Names: <release>-portico unless the release name already says portico. */}}
{{- define "portico.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "portico.fullname" -}}
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

{{- define "portico.selectorLabels" -}}
app.kubernetes.io/name: {{ include "portico.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "portico.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "portico.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: portico
{{- end }}

{{- define "portico.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "portico.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* repository:tag, or repository@digest when a digest is given (the digest wins). */}}
{{- define "portico.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* The enabled providers, comma separated, in a fixed order. */}}
{{- define "portico.providers" -}}
{{- $enabled := list }}
{{- range $name := list "haproxy" "aws" "gcp" }}
{{- if (index $.Values.providers $name).enabled }}
{{- $enabled = append $enabled $name }}
{{- end }}
{{- end }}
{{- if not $enabled }}
{{- fail "enable at least one provider: providers.aws.enabled, providers.gcp.enabled or providers.haproxy.enabled" }}
{{- end }}
{{- join "," $enabled }}
{{- end }}

{{/* The parameters kinds (plural resource names) of the enabled providers. */}}
{{- define "portico.parametersResources" -}}
{{- $resources := list }}
{{- if .Values.providers.haproxy.enabled }}{{ $resources = append $resources "haproxyparameters" }}{{ end }}
{{- if .Values.providers.aws.enabled }}{{ $resources = append $resources "awsloadbalancerparameters" }}{{ end }}
{{- if .Values.providers.gcp.enabled }}{{ $resources = append $resources "gcploadbalancerparameters" }}{{ end }}
{{- toJson $resources }}
{{- end }}
