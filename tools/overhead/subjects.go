package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"
)

// subject is a monitoring agent under measurement.
type subject struct {
	name string
	// command returns the command line that serves metrics on addr (a
	// host:port) for the containerd at socket. dir is a scratch directory.
	command func(dir, addr, socket string, interval time.Duration) ([]string, error)
	// path of the metrics endpoint.
	path string
	// seen returns how many of the test containers (ours, by id) a
	// metrics page covers, and how many other containers of the host it
	// reports besides.
	seen func(metrics []byte, ours map[string]bool) (seen, others int)
	// tickLag: the page has the agent's tick lag and overrun metrics.
	tickLag bool
}

func fleetscopeSubject(bin string, pprof bool) *subject {
	return &subject{
		name:    "fleetscope",
		path:    "/metrics",
		seen:    fleetscopeSeen,
		tickLag: true,
		command: func(dir, addr, socket string, interval time.Duration) ([]string, error) {
			// Everything else keeps its default, as a user would run it,
			// but the history checkpoint is the run's own: a fresh
			// install, not the histories of earlier runs.
			cfg := filepath.Join(dir, "fleetscope.yaml")
			conf := fmt.Sprintf("containerd:\n  socket: %q\nsampling:\n  interval: %s\nweb:\n  listen_address: %q\n  pprof: %v\nhistory:\n  state_file: %q\nlog:\n  format: json\n",
				socket, interval, addr, pprof, filepath.Join(dir, "state.bin"))
			if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
				return nil, err
			}
			return []string{bin, "run", "--config", cfg}, nil
		},
	}
}

// parseCadvisorConfig turns -cadvisor-config into the configurations to
// measure, in order.
func parseCadvisorConfig(s string) ([]string, error) {
	switch s {
	case "kubelet", "fixed":
		return []string{s}, nil
	case "both":
		return []string{"kubelet", "fixed"}, nil
	}
	return nil, fmt.Errorf("%q: want kubelet, fixed or both", s)
}

// The kubelet's cAdvisor settings: housekeeping every 10 s, backing off to
// at most 15 s for containers whose stats do not change.
const (
	kubeletHousekeeping    = 10 * time.Second
	kubeletMaxHousekeeping = 15 * time.Second
)

// cadvisorSubject runs cAdvisor in configuration conf, "kubelet" or
// "fixed"; its name is cadvisor-<conf>.
func cadvisorSubject(bin, conf string, extra []string) *subject {
	return &subject{
		name: "cadvisor-" + conf,
		path: "/metrics",
		seen: cadvisorSeen(namespace),
		command: func(_, addr, socket string, interval time.Duration) ([]string, error) {
			return cadvisorArgs(bin, conf, addr, socket, interval, extra)
		},
	}
}

func cadvisorArgs(bin, conf, addr, socket string, interval time.Duration, extra []string) ([]string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	args := []string{bin, "-listen_ip", host, "-port", port}
	switch conf {
	case "kubelet":
		// As the kubelet runs it: dynamic housekeeping backs off for
		// containers whose stats do not change, idle ones.
		args = append(args,
			"-housekeeping_interval", kubeletHousekeeping.String(),
			"-max_housekeeping_interval", kubeletMaxHousekeeping.String(),
			"-allow_dynamic_housekeeping=true")
	case "fixed":
		// Samples every container as often as the agent does.
		args = append(args,
			"-housekeeping_interval", interval.String(),
			"-allow_dynamic_housekeeping=false")
	default:
		return nil, fmt.Errorf("cadvisor configuration %q: want kubelet or fixed", conf)
	}
	args = append(args,
		"-containerd", socket,
		"-containerd-namespace", namespace,
		"-docker_only=false",
	)
	return append(args, extra...), nil
}
