// Command vulndb turns a directory of OSV entries, such as the data/osv
// directory of the golang.org/x/vulndb module, into a Go vulnerability
// database that govulncheck reads without a network:
//
//	go run ./tools/vulndb -osv DIR -o OUT [-modified 2026-11-05T23:49:57Z]
//	govulncheck -db file://$PWD/OUT ./...
//
// OUT gets the v1 layout govulncheck expects of a file:// database:
// index/db.json (when the data was last modified), index/modules.json
// (for every affected module, its entries and their latest fix, which lets
// govulncheck skip entries fixed before the version in use) and
// ID/<id>.json (each entry, copied unchanged). Every entry is validated
// first; a malformed one fails the build with an error naming its file, so
// that a scan never runs against a database missing entries.
//
// OUT is written next to itself under a temporary name and renamed into
// place, so an interrupted build leaves no half-written database; OUT must
// not exist yet.
package main

import (
	"flag"
	"fmt"
	"os"
	"time"
)

func main() {
	osvDir := flag.String("osv", "", "directory of OSV entries, one `<id>.json` file each")
	out := flag.String("o", "", "database directory to create (must not exist)")
	modified := flag.String("modified", "", "RFC 3339 `time` the data was last modified, for index/db.json when later than every entry's own")
	flag.Parse()
	if *osvDir == "" || *out == "" || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: vulndb -osv DIR -o OUT [-modified TIME]")
		os.Exit(2)
	}
	var mod time.Time
	if *modified != "" {
		var err error
		if mod, err = time.Parse(time.RFC3339, *modified); err != nil {
			fmt.Fprintf(os.Stderr, "vulndb: -modified: %v\n", err)
			os.Exit(2)
		}
	}
	sum, err := build(*osvDir, *out, mod)
	if err != nil {
		fmt.Fprintf(os.Stderr, "vulndb: %v\n", err)
		os.Exit(1)
	}
	fmt.Printf("vulndb: %d entries for %d modules in %s (modified %s)\n",
		sum.entries, sum.modules, *out, sum.modified.Format(time.RFC3339))
}
