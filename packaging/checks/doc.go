// Package checks holds no code, only tests of the packaged artefacts: the
// Prometheus alerting rules (checked and unit-tested with promtool), the
// Grafana dashboard (decoded strictly and validated with the Grafana
// Foundation SDK) and the PromQL of both (parsed with the Prometheus
// parser). The metric names they use are checked against a live agent by
// the integration test of cmd/fleetscope.
package checks
