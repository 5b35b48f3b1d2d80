package agent

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/fleetscope/fleetscope/collectors/host"
	"github.com/fleetscope/fleetscope/config"
	"github.com/fleetscope/fleetscope/model"
	"github.com/fleetscope/fleetscope/pricing"
)

// resolvePrices decides once, at start, what this node's capacity costs
// (package pricing): its own price, else its instance type's in the price
// table, else the unit prices. The capacity a node price is split over is
// the host's, as gopsutil reads it.
func resolvePrices(cfg config.Config, hc *host.Collector, log *slog.Logger) (pricing.Priced, error) {
	p := cfg.Analysis.Prices
	table := pricing.BuiltIn()
	if p.TableFile != "" {
		t, err := pricing.LoadTable(p.TableFile)
		if err != nil {
			return pricing.Priced{}, fmt.Errorf("analysis.prices.table_file: %w", err)
		}
		table = t
	}
	var st host.Stats
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := hc.Read(ctx, &st); err != nil && p.NodeHourly > 0 {
		log.Warn("reading the node's capacity to split its price", "err", err)
	}
	node := pricing.Node{VCPUs: float64(st.CPUs), MemoryGiB: float64(st.MemoryTotal) / (1 << 30)}
	priced, err := pricing.Resolve(p, node, pricing.Detect(cfg.Host.SysRoot), table)
	if err != nil {
		return priced, fmt.Errorf("analysis.prices: %w", err)
	}
	if priced.From == pricing.FromUnit {
		// The node's price at the unit prices: what its capacity costs.
		priced.NodeHourly = node.VCPUs*priced.Prices.VCPUHour + node.MemoryGiB*priced.Prices.GiBHour
	}
	log.Info("prices", "from", priced.From, "instance_type", priced.Instance.Type, "provider", priced.Instance.Provider,
		"spot", priced.Spot, "node_hourly", priced.NodeHourly, "vcpu_hour", priced.Prices.VCPUHour, "gib_hour", priced.Prices.GiBHour,
		"source", priced.Prices.Source)
	return priced, nil
}

// nodePrice is how the node is priced, for snapshots.
func nodePrice(p pricing.Priced) *model.NodePrice {
	return &model.NodePrice{
		From: p.From, Source: model.Clean(p.Prices.Source),
		InstanceType: model.Clean(p.Instance.Type), Provider: p.Instance.Provider, Spot: p.Spot,
		NodeHourly: p.NodeHourly, VCPUHour: p.Prices.VCPUHour, GiBHour: p.Prices.GiBHour, GPUHour: p.Prices.GPUHour,
	}
}
