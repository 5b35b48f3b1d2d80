// Command busybox-oci writes an OCI image layout tar holding a static busybox
// and its applets, ready for `ctr image import`, so that containers can be
// run without a registry:
//
//	go run ./tools/busybox-oci -busybox /bin/busybox -ref docker.io/library/busybox:latest -o busybox.tar
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/fleetscope/fleetscope/internal/testenv"
)

func main() {
	busybox := flag.String("busybox", testenv.BusyboxPath, "static busybox binary to put at /bin/busybox")
	ref := flag.String("ref", testenv.BusyboxRef, "full image reference that ctr image import names the image after")
	out := flag.String("o", "busybox.tar", "output file")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "busybox-oci: unexpected arguments %q\n", flag.Args())
		os.Exit(2)
	}
	if err := write(*out, *busybox, *ref); err != nil {
		fmt.Fprintf(os.Stderr, "busybox-oci: %v\n", err)
		os.Exit(1)
	}
}

// write builds the image into a temporary file next to out and renames it,
// so a failed run never leaves a truncated tar behind.
func write(out, busybox, ref string) error {
	f, err := os.CreateTemp(filepath.Dir(out), ".busybox-oci-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	w := bufio.NewWriter(f)
	err = testenv.BuildBusyboxImage(w, busybox, ref)
	if err == nil {
		err = w.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(f.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(f.Name(), out)
	}
	return err
}
