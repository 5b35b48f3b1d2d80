package main

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/fleetscope/fleetscope/config"
	"github.com/fleetscope/fleetscope/internal/testenv"
)

// The agent prices its node from a price table and the machine's DMI data
// (a fake tree under a test root, the files each cloud's machines show):
// on an EC2 machine the type comes from DMI, on GCE and Azure from
// configuration. A container of 0.5 vCPU and 512 MiB costs its share of
// the row's price, split as OpenCost does, within 0.1 %; no cost comes
// from the unit prices' defaults.
func TestNodePricedFromTable(t *testing.T) {
	testenv.Need(t)
	t.Parallel()
	d := testenv.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	id := testenv.RandomID()
	if _, err := d.Run(ctx, testenv.RunOptions{ID: id, Args: []string{"sleep", "3600"}, CPUQuota: 50_000, MemoryLimit: 512 << 20}); err != nil {
		t.Fatal(err)
	}
	table := filepath.Join(t.TempDir(), "prices.csv")
	if err := os.WriteFile(table, []byte(`provider,instance_type,region,vcpus,memory_gib,gpus,hourly,spot_hourly,currency,source,date
aws,m6i.xlarge,us-east-1,4,16,0,0.192,0.07,USD,test row,2026-12
gcp,n2-standard-8,us-central1,8,32,0,0.388472,,USD,test row,2026-12
azure,Standard_E4s_v5,eastus,4,32,0,0.252,,USD,test row,2026-12
`), 0o644); err != nil {
		t.Fatal(err)
	}
	base := config.Default().Analysis.Prices
	for _, tc := range []struct {
		cloud, instance, config string
		dmi                     map[string]string
		hourly, vcpus, gib      float64
	}{
		{"aws", "m6i.xlarge", "", map[string]string{"sys_vendor": "Amazon EC2", "product_name": "m6i.xlarge"}, 0.192, 4, 16},
		{"gcp", "n2-standard-8", "    instance_type: n2-standard-8\n", map[string]string{"sys_vendor": "Google", "product_name": "Google Compute Engine"}, 0.388472, 8, 32},
		{"azure", "Standard_E4s_v5", "    instance_type: Standard_E4s_v5\n",
			map[string]string{"sys_vendor": "Microsoft Corporation", "product_name": "Virtual Machine", "chassis_asset_tag": "7783-7084-3265-9085-8269-3286-77"}, 0.252, 4, 32},
	} {
		t.Run(tc.cloud, func(t *testing.T) {
			t.Parallel()
			sys := t.TempDir()
			dir := filepath.Join(sys, "class", "dmi", "id")
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			for name, v := range tc.dmi {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(v+"\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			// Money is exported once a verdict has data behind it: a minute.
			a := startAgent(t, d.Socket, fmt.Sprintf("host:\n  sys_root: %s\nanalysis:\n  min_observation: 1m\n  prices:\n    table_file: %s\n%s", sys, table, tc.config))
			a.waitReady(t)
			// The split, by hand: the unit prices' ratio, scaled to the row.
			scale := tc.hourly / (tc.vcpus*base.VCPUHour + tc.gib*base.GiBHour)
			want := (0.5*base.VCPUHour + 0.5*base.GiBHour) * scale
			testenv.Eventually(t, 3*time.Minute, "the container's cost at the table's price", func() error {
				mfs := a.scrape(t)
				node, m, ok := value(mfs, "fleetscope_node_price_per_hour", nil)
				if !ok || label(m, "source") != "table" || label(m, "host_type") != tc.instance || label(m, "cloud_provider") != tc.cloud ||
					math.Abs(node-tc.hourly) > 1e-9 {
					return fmt.Errorf("node price %v %v", node, m)
				}
				cost, _, ok := value(mfs, "fleetscope_container_cost_per_hour", map[string]string{"container_id": id})
				if !ok {
					return fmt.Errorf("no cost yet")
				}
				if math.Abs(cost-want) > 0.001*want {
					return fmt.Errorf("cost %.6f an hour, want %.6f (%s's row split)", cost, want, tc.instance)
				}
				return nil
			})
			if rep := a.report(t); rep.PriceSource == base.Source || rep.PriceSource == "" {
				t.Errorf("report priced at %q, the defaults' source", rep.PriceSource)
			}
		})
	}
}
