package otlp

import (
	"context"
	"log/slog"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// discard is an exporter with the SDK's default temporality and
// aggregation that drops everything.
type discard struct{}

func newDiscard() (sdkmetric.Exporter, error) { return discard{}, nil }

func (discard) Temporality(k sdkmetric.InstrumentKind) metricdata.Temporality {
	return sdkmetric.DefaultTemporalitySelector(k)
}
func (discard) Aggregation(k sdkmetric.InstrumentKind) sdkmetric.Aggregation {
	return sdkmetric.DefaultAggregationSelector(k)
}
func (discard) Export(context.Context, *metricdata.ResourceMetrics) error { return nil }
func (discard) ForceFlush(context.Context) error                          { return nil }
func (discard) Shutdown(context.Context) error                            { return nil }

func discardLog() *slog.Logger { return slog.New(slog.DiscardHandler) }
