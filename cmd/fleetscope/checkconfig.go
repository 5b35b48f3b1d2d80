package main

import (
	"flag"
	"fmt"
	"io"

	"github.com/fleetscope/fleetscope/pricing"
)

// cmdCheckConfig validates a configuration file, or prints the effective
// configuration with its secrets redacted.
func cmdCheckConfig(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("check-config", flag.ContinueOnError)
	fs.SetOutput(stderr)
	print := fs.Bool("print", false, "print the effective configuration (defaults, file and environment merged)")
	if err := fs.Parse(args); err != nil {
		return parseStatus(err)
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "usage: fleetscope check-config [--print] FILE")
		return exitInvalid
	}
	cfg, ok := loadConfig(fs.Arg(0), pricing.NodeArch(), stderr)
	if !ok {
		return exitInvalid
	}
	if *print {
		out, err := cfg.Redacted().YAML()
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		stdout.Write(out)
		return 0
	}
	fmt.Fprintf(stdout, "%s is valid\n", fs.Arg(0))
	return 0
}
