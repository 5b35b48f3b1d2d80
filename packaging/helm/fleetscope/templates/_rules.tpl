{{/*
The alerting rules: the PrometheusRule's spec, and with default values the
project's rule file packaging/prometheus/alerts.yaml (a test renders it from
here: go test ./packaging/helm -update). Prometheus' own template actions
are escaped as {{"{{"}}"{{"{{"}}"{{"}}"}}.
*/}}
{{- define "fleetscope.rules" -}}
groups:
  - name: fleetscope-cost
    rules:
      {{- with .Values.prometheusRule.alerts.containerIdle }}
      {{- if .enabled }}
      # Idle for more than {{ mulf .idleRatio 100 }}% of the last 24 hours while its reservation
      # costs more than {{ .idleCostPerMonth }} (currency of the agent's price sheet) a month,
      # continuously for {{ .for }}. Pod sandboxes (k8s_container_name="POD") are
      # the pod's, not a workload's, and are left out.
      - alert: FleetscopeContainerIdle
        expr: |
          fleetscope_container_idle_cost_per_hour{k8s_container_name!="POD"} * 730 > {{ .idleCostPerMonth }}
          and ignoring (window)
          fleetscope_container_idle_ratio{window="24h", k8s_container_name!="POD"} > {{ .idleRatio }}
        for: {{ .for }}
        labels:
          severity: warning
          {{- with $.Values.prometheusRule.additionalRuleLabels }}
          {{- toYaml . | nindent 10 }}
          {{- end }}
        annotations:
          summary: "Container {{"{{"}} $labels.k8s_namespace_name }}/{{"{{"}} $labels.k8s_pod_name }}/{{"{{"}} $labels.k8s_container_name }} pays for idle capacity"
          description: "Container {{"{{"}} $labels.container_id }} on {{"{{"}} or $labels.node $labels.instance }} was idle more than {{ mulf .idleRatio 100 }}% of the last 24h and its idle share costs {{"{{"}} $value | printf \"%.2f\" }} a month (thresholds: idle ratio 24h > {{ .idleRatio }}, idle cost > {{ .idleCostPerMonth }}/month, for {{ .for }})."
          runbook_url: "https://github.com/fleetscope/fleetscope/blob/main/docs/runbooks/FleetscopeContainerIdle.md"
      {{- end }}
      {{- end }}

      {{- with .Values.prometheusRule.alerts.serverlessCandidate }}
      {{- if .enabled }}

      # Informational: the agent's verdict is a serverless platform with a
      # fit score above {{ .fitScore }} and an estimated saving above {{ .savingPerMonth }} a month.
      - alert: FleetscopeServerlessCandidate
        expr: |
          (fleetscope_container_serverless_fit_ratio{k8s_container_name!="POD"} * 100 > {{ .fitScore }})
          * ignoring (verdict, platform) group_left (verdict, platform)
          fleetscope_container_serverless_verdict{verdict=~"function|serverless-container", k8s_container_name!="POD"}
          and ignoring (verdict, platform, currency)
          fleetscope_container_serverless_savings_per_hour * 730 > {{ .savingPerMonth }}
        for: {{ .for }}
        labels:
          severity: info
          {{- with $.Values.prometheusRule.additionalRuleLabels }}
          {{- toYaml . | nindent 10 }}
          {{- end }}
        annotations:
          summary: "Container {{"{{"}} $labels.k8s_namespace_name }}/{{"{{"}} $labels.k8s_pod_name }}/{{"{{"}} $labels.k8s_container_name }} would be cheaper as {{"{{"}} $labels.verdict }}"
          description: "Container {{"{{"}} $labels.container_id }} on {{"{{"}} or $labels.node $labels.instance }} fits the {{"{{"}} $labels.platform }} platform with score {{"{{"}} $value }} (thresholds: fit score > {{ .fitScore }}, saving > {{ .savingPerMonth }}/month, for {{ .for }}); `fleetscope report` lists its reasons, blockers and saving."
          runbook_url: "https://github.com/fleetscope/fleetscope/blob/main/docs/runbooks/FleetscopeServerlessCandidate.md"
      {{- end }}
      {{- end }}

      {{- with .Values.prometheusRule.alerts.namespaceIdleCostHigh }}
      {{- if .enabled }}

      # The idle cost of a namespace, summed over every node of a cluster,
      # above {{ .idleCostPerMonth }} a month for {{ .for }}. The idle cost uses the 7-day idle
      # ratio, so it moves slowly; the hour only rides out scrape gaps.
      - alert: FleetscopeNamespaceIdleCostHigh
        expr: |
          sum by (cluster, k8s_namespace_name) (fleetscope_container_idle_cost_per_hour) * 730 > {{ .idleCostPerMonth }}
        for: {{ .for }}
        labels:
          severity: warning
          {{- with $.Values.prometheusRule.additionalRuleLabels }}
          {{- toYaml . | nindent 10 }}
          {{- end }}
        annotations:
          summary: "Namespace {{"{{"}} $labels.k8s_namespace_name }} pays {{"{{"}} $value | printf \"%.0f\" }} a month for idle capacity"
          description: "Containers of namespace {{"{{"}} $labels.k8s_namespace_name }} cost {{"{{"}} $value | printf \"%.2f\" }} a month while idle (threshold: {{ .idleCostPerMonth }}/month, for {{ .for }})."
          runbook_url: "https://github.com/fleetscope/fleetscope/blob/main/docs/runbooks/FleetscopeNamespaceIdleCostHigh.md"
      {{- end }}
      {{- end }}

  - name: fleetscope-agent
    rules:
      {{- if .Values.prometheusRule.alerts.agentDown.enabled }}
      # A scraped agent that does not answer for 5 minutes. The agent's
      # targets are those of prometheusRule.agentUpSelector: by default the
      # ServiceMonitor's and PodMonitor's job (the chart's name) and, under
      # annotation scraping (job "kubernetes-pods" in the prometheus-community
      # chart), the pod label app.kubernetes.io/name that its labelmap copies.
      - alert: FleetscopeAgentDown
        expr: |
          ({{ include "fleetscope.agentUp" . }}) == 0
        for: 5m
        labels:
          severity: warning
          {{- with $.Values.prometheusRule.additionalRuleLabels }}
          {{- toYaml . | nindent 10 }}
          {{- end }}
          cause: scrape_failed
        annotations:
          summary: "Fleetscope agent {{"{{"}} or $labels.node $labels.instance }} is down"
          description: "Prometheus could not scrape the Fleetscope agent {{"{{"}} or $labels.node $labels.instance }} (job {{"{{"}} $labels.job }}) for 5 minutes; its node's containers are not measured."
          runbook_url: "https://github.com/fleetscope/fleetscope/blob/main/docs/runbooks/FleetscopeAgentDown.md"

      # No agent target at all for 10 minutes: the DaemonSet or service
      # discovery is gone, so there is no `up` series that could be 0.
      - alert: FleetscopeAgentDown
        expr: |
          absent({{ include "fleetscope.agentUp" . }})
        for: 10m
        labels:
          severity: warning
          {{- with $.Values.prometheusRule.additionalRuleLabels }}
          {{- toYaml . | nindent 10 }}
          {{- end }}
          cause: no_target
        annotations:
          summary: "No Fleetscope agent is scraped"
          description: "Prometheus has had no Fleetscope scrape target ({{ include "fleetscope.agentUp" . | replace "\"" "'" }}) for 10 minutes."
          runbook_url: "https://github.com/fleetscope/fleetscope/blob/main/docs/runbooks/FleetscopeAgentDown.md"
      {{- end }}

      {{- if .Values.prometheusRule.alerts.collectionFailing.enabled }}

      # A collector whose rounds fail, for 15 minutes.
      - alert: FleetscopeCollectionFailing
        expr: |
          fleetscope_collector_success == 0
        for: 15m
        labels:
          severity: warning
          {{- with $.Values.prometheusRule.additionalRuleLabels }}
          {{- toYaml . | nindent 10 }}
          {{- end }}
          cause: collector
        annotations:
          summary: "Fleetscope collector {{"{{"}} $labels.collector }} fails on {{"{{"}} or $labels.node $labels.instance }}"
          description: "The {{"{{"}} $labels.collector }} collector of the agent on {{"{{"}} or $labels.node $labels.instance }} has not completed a round for every container for 15 minutes; its figures are missing or stale."
          runbook_url: "https://github.com/fleetscope/fleetscope/blob/main/docs/runbooks/FleetscopeCollectionFailing.md"

      # The agent has lost containerd for 10 minutes: it keeps sampling the
      # containers it knows but discovers no new ones.
      - alert: FleetscopeCollectionFailing
        expr: |
          fleetscope_containerd_up == 0
        for: 10m
        labels:
          severity: warning
          {{- with $.Values.prometheusRule.additionalRuleLabels }}
          {{- toYaml . | nindent 10 }}
          {{- end }}
          cause: containerd
        annotations:
          summary: "Fleetscope agent on {{"{{"}} or $labels.node $labels.instance }} is not connected to containerd"
          description: "The agent on {{"{{"}} or $labels.node $labels.instance }} has not been connected to containerd for 10 minutes; containers started since are not discovered."
          runbook_url: "https://github.com/fleetscope/fleetscope/blob/main/docs/runbooks/FleetscopeCollectionFailing.md"

      # An exporter drops series of a metric that reached
      # export.max_series_per_metric: some containers go unmeasured.
      - alert: FleetscopeCollectionFailing
        expr: |
          max by (job, instance, node, metric) (fleetscope_exporter_dropped_series) > 0
        for: 15m
        labels:
          severity: warning
          {{- with $.Values.prometheusRule.additionalRuleLabels }}
          {{- toYaml . | nindent 10 }}
          {{- end }}
          cause: series_cap
        annotations:
          summary: "Fleetscope agent on {{"{{"}} or $labels.node $labels.instance }} drops series of {{"{{"}} $labels.metric }}"
          description: "The agent on {{"{{"}} or $labels.node $labels.instance }} has left {{"{{"}} $value }} series of {{"{{"}} $labels.metric }} out of its output for 15 minutes, because the metric reached export.max_series_per_metric."
          runbook_url: "https://github.com/fleetscope/fleetscope/blob/main/docs/runbooks/FleetscopeCollectionFailing.md"
      {{- end }}
{{- end }}

{{/*
The `up` series of the agent's scrape targets, as a PromQL expression:
prometheusRule.agentUpSelector, or by default the job the ServiceMonitor
and PodMonitor give (jobLabel app.kubernetes.io/name: the chart's name), a
job whose name contains "fleetscope" (hand-written scrape configs), and the
pod label app.kubernetes.io/name that annotation scraping's labelmap copies
(the prometheus-community chart's "kubernetes-pods" job).
*/}}
{{- define "fleetscope.agentUp" -}}
{{- with .Values.prometheusRule.agentUpSelector }}
{{- . }}
{{- else }}
{{- $name := include "fleetscope.name" . }}
{{- printf "up{job=~\".*%s.*\"} or up{app_kubernetes_io_name=\"%s\"}" $name $name }}
{{- end }}
{{- end }}
