package pricing

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"unicode"
)

// Instance is the machine a node runs on, as far as it is known.
type Instance struct {
	// Provider is "aws", "gcp" or "azure", empty when not recognised.
	Provider string
	// Type is the instance type, empty when the machine does not say it
	// (only EC2 puts it in its DMI data; GCE and Azure name their product
	// only, so their type comes from configuration).
	Type string
	// From says where Type came from: "dmi" or "configuration".
	From string
}

// azureAssetTag is the chassis asset tag every Azure VM carries.
const azureAssetTag = "7783-7084-3265-9085-8269-3286-77"

// Detect reads the machine's DMI data under sysRoot (the host's /sys) and
// recognises the major clouds: EC2 names the instance type in
// product_name ("m5.large"), GCE says "Google Compute Engine", Azure
// "Virtual Machine" with its chassis asset tag. It makes no network call;
// what it cannot read or recognise leaves Instance empty.
func Detect(sysRoot string) Instance {
	dir := filepath.Join(sysRoot, "class", "dmi", "id")
	vendor, product := dmiField(dir, "sys_vendor"), dmiField(dir, "product_name")
	switch {
	case vendor == "Amazon EC2" && validType(product):
		return Instance{Provider: "aws", Type: product, From: "dmi"}
	case vendor == "Amazon EC2":
		return Instance{Provider: "aws"}
	case vendor == "Google" || product == "Google Compute Engine":
		return Instance{Provider: "gcp"}
	case vendor == "Microsoft Corporation" && dmiField(dir, "chassis_asset_tag") == azureAssetTag:
		return Instance{Provider: "azure"}
	}
	return Instance{}
}

// dmiField is one DMI file's first line, at most 256 bytes of it, trimmed;
// empty when it cannot be read.
func dmiField(dir, name string) string {
	f, err := os.Open(filepath.Join(dir, name))
	if err != nil {
		return ""
	}
	defer f.Close()
	b, _ := io.ReadAll(io.LimitReader(f, 256))
	line, _, _ := strings.Cut(string(b), "\n")
	return strings.TrimSpace(line)
}

// validType reports whether s looks like an instance type ("m5.large",
// "c7gn.16xlarge"): what a hostile image of DMI data could put there is
// never used as a name otherwise.
func validType(s string) bool {
	if len(s) < 3 || len(s) > 64 || !strings.Contains(s, ".") {
		return false
	}
	for _, r := range s {
		if r > unicode.MaxASCII || !(unicode.IsLetter(r) || unicode.IsDigit(r) || r == '.' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}
