// Command vulnerable is the fixture of the vulnerability check's self-test:
// it calls language.Parse of golang.org/x/text v0.3.6, which GO-2021-0113
// (an out-of-bounds read, fixed in v0.3.7) lists, so a working database
// must make govulncheck report that entry as called.
package main

import (
	"fmt"
	"os"

	"golang.org/x/text/language"
)

func main() {
	tag, err := language.Parse(os.Args[len(os.Args)-1])
	fmt.Println(tag, err)
}
