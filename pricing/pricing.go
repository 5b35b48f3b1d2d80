// Package pricing decides what this node's capacity costs per vCPU-hour,
// GiB-hour and GPU-hour, and says where that came from. In order:
//
//  1. a price given for this node (analysis.prices.node_hourly: a chart
//     value per node pool, or the environment);
//  2. the price of the node's instance type in a price table (a file the
//     user keeps, else the table built in), the type given in
//     configuration or read from the machine's DMI data, without any
//     network call;
//  3. the configured unit prices.
//
// A node's price is split into CPU, memory and GPU the way the OpenCost
// specification does when a provider gives only a total (its Appendix A):
// the configured unit prices set the ratio between the parts, and are
// scaled together so that the node's capacity at the split prices costs
// exactly the node's price. So every container is priced as its share of
// what its node really costs, and a node's pods at their reservations add
// up to the node.
package pricing

import (
	"errors"
	"fmt"

	"github.com/fleetscope/fleetscope/config"
)

// Node is the capacity a node's price is split over.
type Node struct {
	VCPUs     float64
	MemoryGiB float64
	GPUs      int
}

// Sources of a node's prices (Priced.From).
const (
	FromNode  = "node"  // a price given for this node
	FromTable = "table" // the price table's row for its instance type
	FromUnit  = "unit"  // the configured unit prices
)

// Priced is how this node is priced.
type Priced struct {
	// Prices are the unit prices to cost containers with, their Source
	// saying where they came from.
	Prices config.PriceConfig
	From   string
	// NodeHourly is the node's price an hour, split into Prices (0 for
	// FromUnit); Spot says it is a spot price.
	NodeHourly float64
	Spot       bool
	// Instance is the node's instance type and provider, where known.
	Instance Instance
	// Row is the table row that priced it (FromTable).
	Row *Row
}

// Split divides a node's hourly price into unit prices in the ratio of
// base's, scaled so that n's capacity costs exactly hourly (OpenCost's
// method). With no capacity or no base price to take a ratio from, it
// returns base's prices unchanged and false.
func Split(hourly float64, n Node, base config.PriceConfig) (vcpu, gib, gpu float64, ok bool) {
	listed := n.VCPUs*base.VCPUHour + n.MemoryGiB*base.GiBHour + float64(n.GPUs)*base.GPUHour
	if hourly <= 0 || listed <= 0 {
		return base.VCPUHour, base.GiBHour, base.GPUHour, false
	}
	scale := hourly / listed
	return base.VCPUHour * scale, base.GiBHour * scale, base.GPUHour * scale, true
}

// Resolve prices this node: p is the configuration's price section, n the
// node's capacity (used for a node price; a table row carries its own),
// inst the instance type found on the machine (see Detect), table the
// price table to look it up in (nil: none).
func Resolve(p config.PriceConfig, n Node, inst Instance, table *Table) (Priced, error) {
	out := Priced{Prices: p, From: FromUnit, Instance: inst}
	if p.InstanceType != "" {
		out.Instance = Instance{Type: p.InstanceType, Provider: inst.Provider, From: "configuration"}
	}
	switch {
	case p.NodeHourly > 0:
		vcpu, gib, gpu, ok := Split(p.NodeHourly, n, p)
		if !ok {
			return out, errors.New("analysis.prices.node_hourly is set, but the node's capacity or the unit prices to split it by are unknown")
		}
		out.From, out.NodeHourly, out.Spot = FromNode, p.NodeHourly, p.NodeSpot
		out.Prices.VCPUHour, out.Prices.GiBHour, out.Prices.GPUHour = vcpu, gib, gpu
		kind := "on-demand"
		if p.NodeSpot {
			kind = "spot"
		}
		out.Prices.Source = fmt.Sprintf("this node's price, %.4f %s an hour (%s), from configuration, split into CPU, memory and GPU as OpenCost does",
			p.NodeHourly, p.Currency, kind)
		out.Prices.GPUSource = out.Prices.Source
		return out, nil
	case out.Instance.Type != "" && table != nil:
		row, ok := table.Lookup(out.Instance.Type)
		if !ok {
			return out, nil
		}
		if row.Currency != p.Currency {
			return out, fmt.Errorf("price table %s: %s is priced in %s, but analysis.prices.currency is %s; one report has one currency",
				table.Name, row.InstanceType, row.Currency, p.Currency)
		}
		hourly, spot := row.Hourly, false
		if p.CapacityType == CapacitySpot && row.SpotHourly > 0 {
			hourly, spot = row.SpotHourly, true
		}
		hourly *= 1 - p.Discount
		vcpu, gib, gpu, ok := Split(hourly, Node{VCPUs: row.VCPUs, MemoryGiB: row.MemoryGiB, GPUs: row.GPUs}, p)
		if !ok {
			return out, nil
		}
		out.From, out.NodeHourly, out.Spot, out.Row = FromTable, hourly, spot, &row
		out.Prices.VCPUHour, out.Prices.GiBHour, out.Prices.GPUHour = vcpu, gib, gpu
		out.Prices.Source = row.describe(hourly, spot, p.Discount, table.Name)
		out.Prices.GPUSource = out.Prices.Source
	}
	return out, nil
}

// Capacity types of analysis.prices.capacity_type.
const (
	CapacityOnDemand = "on-demand"
	CapacitySpot     = "spot"
)
