{{/*
Name of the chart, or nameOverride.
*/}}
{{- define "fleetscope.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full name of the release's objects: the release name alone when it already
contains the chart's name.
*/}}
{{- define "fleetscope.fullname" -}}
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
The namespace of every object: namespaceOverride, else the release's.
*/}}
{{- define "fleetscope.namespace" -}}
{{- default .Release.Namespace .Values.namespaceOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The agent's image: registry/repository, then @digest when set, else :tag
(the chart's appVersion when empty).
*/}}
{{- define "fleetscope.image" -}}
{{- $img := .Values.image }}
{{- $repo := $img.repository }}
{{- with $img.registry }}{{ $repo = printf "%s/%s" . $repo }}{{ end }}
{{- if $img.digest }}
{{- printf "%s@%s" $repo $img.digest }}
{{- else }}
{{- printf "%s:%s" $repo ($img.tag | default .Chart.AppVersion) }}
{{- end }}
{{- end }}

{{- define "fleetscope.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "fleetscope.selectorLabels" -}}
app.kubernetes.io/name: {{ include "fleetscope.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "fleetscope.labels" -}}
helm.sh/chart: {{ include "fleetscope.chart" . }}
{{ include "fleetscope.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/component: agent
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "fleetscope.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "fleetscope.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
Paths inside the agent's container. The host's trees are mounted under
/host so that they never shadow the image's own files.
*/}}
{{- define "fleetscope.cgroupMount" -}}/host/sys/fs/cgroup{{- end }}
{{- define "fleetscope.procMount" -}}/host/proc{{- end }}
{{- define "fleetscope.containerdMount" -}}/host/run/containerd{{- end }}
{{- define "fleetscope.configMount" -}}/etc/fleetscope{{- end }}
{{- define "fleetscope.stateMount" -}}/var/lib/fleetscope{{- end }}
{{- define "fleetscope.webConfigMount" -}}/etc/fleetscope-web{{- end }}

{{/*
The Secret holding the exporter-toolkit web configuration, or "" when
TLS and basic auth are off.
*/}}
{{- define "fleetscope.webConfigSecret" -}}
{{- if .Values.webConfig.existingSecret }}
{{- .Values.webConfig.existingSecret }}
{{- else if .Values.webConfig.content }}
{{- printf "%s-web-config" (include "fleetscope.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{/*
The agent's configuration: the user's config, with the keys that must agree
with the chart's mounts set by the chart.
*/}}
{{- define "fleetscope.config" -}}
{{- $socket := required "containerd.socket must be set" .Values.containerd.socket }}
{{- if not (isAbs $socket) }}
{{- fail (printf "containerd.socket must be an absolute path, got %q" $socket) }}
{{- end }}
{{- $chart := dict
  "containerd" (dict "socket" (printf "%s/%s" (include "fleetscope.containerdMount" .) (base $socket)))
  "host" (dict
    "cgroup_root" (include "fleetscope.cgroupMount" .)
    "proc_root" (include "fleetscope.procMount" .)
    "root_filesystem" .Values.host.rootFilesystem)
  "history" (dict "state_file" (printf "%s/state.bin" (include "fleetscope.stateMount" .)))
  "web" (dict "listen_address" (printf ":%d" (int .Values.port)))
}}
{{- if include "fleetscope.webConfigSecret" . }}
{{- $_ := set $chart.web "health_listen_address" (printf ":%d" (int .Values.webConfig.healthPort)) }}
{{- end }}
{{- mergeOverwrite (deepCopy (.Values.config | default dict)) $chart | toYaml }}
{{- end }}

{{/*
A probe from values; with TLS and basic auth on, its HTTP check goes to the
plain health listener instead.
*/}}
{{- define "fleetscope.probe" -}}
{{- $probe := deepCopy (index . 0) }}
{{- if and (index . 1) $probe.httpGet }}
{{- $_ := set $probe.httpGet "port" "http-health" }}
{{- $_ := unset $probe.httpGet "scheme" }}
{{- end }}
{{- toYaml $probe }}
{{- end }}

{{- /*
The agent's affinity: .Values.affinity, and for the DaemonSet of the nodes
of no pool (an empty pool) a required term that keeps it off every pool's
nodes. A pool names its nodes by one label, so "not in any pool" is one
term of NotIn expressions.
*/}}
{{- define "fleetscope.affinity" -}}
{{- $a := deepCopy (.affinity | default dict) }}
{{- if and (not .pool.name) .pools }}
{{- if dig "nodeAffinity" "requiredDuringSchedulingIgnoredDuringExecution" "" $a }}
{{- fail "affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution cannot be combined with nodePools: the chart sets it to keep the pools' nodes apart" }}
{{- end }}
{{- $exprs := list }}
{{- range .pools }}
{{- range $key, $value := .nodeSelector }}
{{- $exprs = append $exprs (dict "key" $key "operator" "NotIn" "values" (list $value)) }}
{{- end }}
{{- end }}
{{- $na := $a.nodeAffinity | default dict }}
{{- $_ := set $na "requiredDuringSchedulingIgnoredDuringExecution" (dict "nodeSelectorTerms" (list (dict "matchExpressions" $exprs))) }}
{{- $_ := set $a "nodeAffinity" $na }}
{{- end }}
{{- if $a }}
{{- toYaml $a }}
{{- end }}
{{- end }}
