package config

// OTELVar is an OpenTelemetry SDK environment variable the agent honours.
// Those that stand for a key of the otlp section win over it, as FLEETSCOPE_*
// variables win over the file.
type OTELVar struct {
	// Name is the variable; Metrics its metrics-specific form, which wins
	// over Name, or "" where the specification has none.
	Name, Metrics string
	// Key is the configuration key it overrides, or "".
	Key string
	// What it does, in a few words.
	What string
}

// OTELEnvVars lists the OpenTelemetry SDK variables the agent honours, for
// "help env" and the configuration reference.
var OTELEnvVars = []OTELVar{
	{"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "otlp.endpoint", "turns OTLP export on"},
	{"OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "otlp.protocol", ""},
	{"OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_METRICS_HEADERS", "otlp.headers", "values are redacted in output"},
	{"OTEL_EXPORTER_OTLP_INSECURE", "OTEL_EXPORTER_OTLP_METRICS_INSECURE", "otlp.insecure", ""},
	{"OTEL_EXPORTER_OTLP_CERTIFICATE", "OTEL_EXPORTER_OTLP_METRICS_CERTIFICATE", "otlp.ca_file", ""},
	{"OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", "OTEL_EXPORTER_OTLP_METRICS_CLIENT_CERTIFICATE", "otlp.cert_file", ""},
	{"OTEL_EXPORTER_OTLP_CLIENT_KEY", "OTEL_EXPORTER_OTLP_METRICS_CLIENT_KEY", "otlp.key_file", ""},
	{"OTEL_EXPORTER_OTLP_TIMEOUT", "OTEL_EXPORTER_OTLP_METRICS_TIMEOUT", "otlp.timeout", ""},
	{"OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE", "", "", "counters are cumulative unless this says otherwise"},
	{"OTEL_METRIC_EXPORT_INTERVAL", "", "otlp.interval", "in milliseconds"},
	{"OTEL_METRIC_EXPORT_TIMEOUT", "", "", "in milliseconds; otlp.timeout when unset"},
	{"OTEL_RESOURCE_ATTRIBUTES", "", "", "more resource attributes"},
	{"OTEL_SERVICE_NAME", "", "", "service.name (default fleetscope)"},
	{"OTEL_SDK_DISABLED", "", "", "true switches OTLP export off"},
	{"OTEL_METRICS_EXPORTER", "", "", "none switches OTLP export off"},
}

// OTELEnvNames lists the names of OTELEnvVars, each variable before its
// metrics-specific form.
func OTELEnvNames() []string {
	var names []string
	for _, v := range OTELEnvVars {
		names = append(names, v.Name)
		if v.Metrics != "" {
			names = append(names, v.Metrics)
		}
	}
	return names
}
