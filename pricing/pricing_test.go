package pricing

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fleetscope/fleetscope/config"
)

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }

// The OpenCost specification's own example (Appendix A): a node of 1 GPU,
// 1 CPU and 1 GB for 35 a month, base prices 30, 30 and 10, splits into
// 15, 15 and 5.
func TestSplitAsOpenCost(t *testing.T) {
	base := config.PriceConfig{VCPUHour: 30, GiBHour: 10, GPUHour: 30}
	vcpu, gib, gpu, ok := Split(35, Node{VCPUs: 1, MemoryGiB: 1, GPUs: 1}, base)
	if !ok || !near(vcpu, 15) || !near(gib, 5) || !near(gpu, 15) {
		t.Errorf("split %v %v %v (%v), want 15 5 15", vcpu, gib, gpu, ok)
	}
	if _, _, _, ok := Split(1, Node{}, base); ok {
		t.Error("a node without capacity split")
	}
}

// An m5.large (2 vCPUs, 8 GiB, 0.096 an hour) at the default unit prices'
// ratio, by hand: the base lists 2×0.04048 + 8×0.004445 = 0.11652, so
// each price is scaled by 0.096/0.11652. Two pods of different sizes cost
// their share, and the node's capacity costs the node's price.
func TestSplitNodeWithTwoPodSizes(t *testing.T) {
	base := config.Default().Analysis.Prices
	vcpu, gib, _, ok := Split(0.096, Node{VCPUs: 2, MemoryGiB: 8}, base)
	scale := 0.096 / 0.11652
	if !ok || !near(vcpu, 0.04048*scale) || !near(gib, 0.004445*scale) {
		t.Fatalf("split %v %v, want %v %v", vcpu, gib, 0.04048*scale, 0.004445*scale)
	}
	big := 1.5*vcpu + 6*gib   // 1.5 vCPUs, 6 GiB: three quarters of the node
	small := 0.5*vcpu + 2*gib // the rest
	if !near(big, 0.072) || !near(small, 0.024) || !near(big+small, 0.096) {
		t.Errorf("pods cost %v and %v, want 0.072 and 0.024 (the node: 0.096)", big, small)
	}
}

func TestBuiltInTable(t *testing.T) {
	tab := BuiltIn()
	if tab.Len() < 20 {
		t.Fatalf("%d rows", tab.Len())
	}
	for _, typ := range []string{"m5.large", "n2-standard-2", "Standard_D2s_v5", "standard_d2s_v5"} {
		r, ok := tab.Lookup(typ)
		if !ok || r.Currency != "USD" || r.Hourly <= 0 || r.VCPUs <= 0 || r.MemoryGiB <= 0 || r.Source == "" || r.Date == "" {
			t.Errorf("%s: %+v %v", typ, r, ok)
		}
	}
	if r, _ := tab.Lookup("g4dn.xlarge"); r.GPUs != 1 {
		t.Errorf("g4dn.xlarge: %d GPUs", r.GPUs)
	}
}

func TestTableErrorsNameLineAndColumn(t *testing.T) {
	head := strings.Join(tableColumns, ",") + "\n"
	for _, tc := range []struct{ in, want string }{
		{"provider,type\n", "column 2"},
		{head + "aws,m5.large,us-east-1,2,8,0,abc,,USD,list,2024\n", "line 2: hourly \"abc\""},
		{head + "aws,m5.large,us-east-1,2,8,0,0.1,,USD,list,2024\naws,M5.LARGE,us-east-1,2,8,0,0.1,,USD,list,2024\n", "line 3: M5.LARGE is listed twice"},
		{head + "aws,m5.large,us-east-1,2,8,0,0.1,,USD,,2024\n", "must not be empty"},
		{head + "aws,m5.large,us-east-1,2,8,-1,0.1,,USD,list,2024\n", "gpus"},
		{head + "aws,m5.large,us-east-1,2,8\n", "wrong number of fields"},
		{head + "aws,m5.large,us-east-1,NaN,8,0,0.1,,USD,list,2024\n", "vcpus"},
	} {
		_, err := ParseTable(strings.NewReader(tc.in), "prices.csv")
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "prices.csv") {
			t.Errorf("%q: %v, want it to name prices.csv and %q", tc.in, err, tc.want)
		}
	}
	if _, err := ParseTable(strings.NewReader(head+strings.Repeat("#"+strings.Repeat("x", 1000)+"\n", 1100)), "big.csv"); err == nil {
		t.Error("a table over 1 MiB read")
	}
}

// The node's own price first, then the table's row for its type, then
// the unit prices; spot and discounts; one currency.
func TestResolveOrder(t *testing.T) {
	p := config.Default().Analysis.Prices
	tab := BuiltIn()
	node := Node{VCPUs: 4, MemoryGiB: 16}

	got, err := Resolve(p, node, Instance{}, tab)
	if err != nil || got.From != FromUnit || got.Prices.VCPUHour != p.VCPUHour || got.Prices.Source != p.Source {
		t.Errorf("nothing known: %+v, %v", got, err)
	}

	got, err = Resolve(p, node, Instance{Provider: "aws", Type: "m5.large", From: "dmi"}, tab)
	if err != nil || got.From != FromTable || !near(2*got.Prices.VCPUHour+8*got.Prices.GiBHour, 0.096) ||
		!strings.Contains(got.Prices.Source, "m5.large") || got.Spot {
		t.Errorf("an m5.large: %+v, %v", got, err)
	}

	q := p
	q.InstanceType, q.Discount = "n2-standard-4", 0.25
	got, err = Resolve(q, node, Instance{Provider: "aws", Type: "m5.large", From: "dmi"}, tab)
	if err != nil || got.From != FromTable || got.Instance.Type != "n2-standard-4" || !near(got.NodeHourly, 0.194236*0.75) ||
		!strings.Contains(got.Prices.Source, "25 % discount") {
		t.Errorf("configured type and discount: %+v, %v", got, err)
	}

	q = p
	q.NodeHourly, q.NodeSpot = 0.05, true
	got, err = Resolve(q, node, Instance{Provider: "aws", Type: "m5.large", From: "dmi"}, tab)
	if err != nil || got.From != FromNode || !got.Spot || !near(4*got.Prices.VCPUHour+16*got.Prices.GiBHour, 0.05) {
		t.Errorf("the node's own price: %+v, %v", got, err)
	}

	q = p
	q.Currency = "EUR"
	if _, err := Resolve(q, node, Instance{Type: "m5.large"}, tab); err == nil || !strings.Contains(err.Error(), "USD") || !strings.Contains(err.Error(), "EUR") {
		t.Errorf("a USD row for an EUR configuration: %v", err)
	}

	spot := "provider,instance_type,region,vcpus,memory_gib,gpus,hourly,spot_hourly,currency,source,date\naws,m5.large,us-east-1,2,8,0,0.096,0.035,USD,list,2024\n"
	st, err := ParseTable(strings.NewReader(spot), "spot.csv")
	if err != nil {
		t.Fatal(err)
	}
	q = p
	q.CapacityType = CapacitySpot
	if got, err := Resolve(q, node, Instance{Type: "m5.large"}, st); err != nil || !got.Spot || !near(got.NodeHourly, 0.035) {
		t.Errorf("spot: %+v, %v", got, err)
	}
}

// A fake DMI tree for each cloud, as its machines show it.
func TestDetect(t *testing.T) {
	for _, tc := range []struct {
		files map[string]string
		want  Instance
	}{
		{map[string]string{"sys_vendor": "Amazon EC2\n", "product_name": "m5.large\n"}, Instance{Provider: "aws", Type: "m5.large", From: "dmi"}},
		{map[string]string{"sys_vendor": "Google\n", "product_name": "Google Compute Engine\n"}, Instance{Provider: "gcp"}},
		{map[string]string{"sys_vendor": "Microsoft Corporation\n", "product_name": "Virtual Machine\n", "chassis_asset_tag": azureAssetTag + "\n"}, Instance{Provider: "azure"}},
		{map[string]string{"sys_vendor": "Microsoft Corporation\n", "product_name": "Surface Laptop\n"}, Instance{}},
		{map[string]string{"sys_vendor": "Amazon EC2\n", "product_name": "m5.large\x1b[2J\n"}, Instance{Provider: "aws"}},
		{map[string]string{"sys_vendor": "Amazon EC2\n", "product_name": strings.Repeat("m", 300) + ".large"}, Instance{Provider: "aws"}},
		{nil, Instance{}},
	} {
		root := t.TempDir()
		dir := filepath.Join(root, "class", "dmi", "id")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, v := range tc.files {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(v), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if got := Detect(root); got != tc.want {
			t.Errorf("%q: %+v, want %+v", tc.files, got, tc.want)
		}
	}
}
