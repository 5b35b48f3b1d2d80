package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	prommodel "github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/textparse"

	"github.com/fleetscope/fleetscope/exporters/otlp/otlptest"
	"github.com/fleetscope/fleetscope/internal/testenv"
)

// A tenant can name an interface of its pod's network namespace with any
// byte but '/', ':', blanks and NUL. One such name must not blank the
// node: the scrape parses with Prometheus' own scrape parser and OTLP
// exports keep succeeding, with the name's bad bytes replaced.
func TestHostileInterfaceName(t *testing.T) {
	testenv.Need(t)
	t.Parallel()
	d := testenv.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sandbox := testenv.RandomID()
	pid, err := d.Run(ctx, testenv.RunOptions{Namespace: "k8s.io", ID: sandbox, Args: []string{"sleep", "3600"},
		Labels: map[string]string{"io.kubernetes.pod.name": "evil-0", "io.kubernetes.pod.namespace": "tenant",
			"io.kubernetes.pod.uid": "evil-uid", "io.cri-containerd.kind": "sandbox"}})
	if err != nil {
		t.Fatal(err)
	}
	host := "fsh" + sandbox[:8]
	bad := "ev\xff\xfe" + sandbox[:4] // invalid UTF-8, legal to the kernel
	if out, err := exec.Command("ip", "link", "add", host, "type", "veth", "peer", "name", bad).CombinedOutput(); err != nil {
		t.Fatalf("ip link add: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "link", "del", host).Run() })
	if out, err := exec.Command("ip", "link", "set", bad, "netns", strconv.Itoa(pid)).CombinedOutput(); err != nil {
		t.Fatalf("ip link set netns: %v %s", err, out)
	}

	rcv := otlptest.StartGRPC(t, "")
	a := startAgent(t, d.Socket, fmt.Sprintf("otlp:\n  endpoint: %s\n  protocol: grpc\n  interval: 1s\n  timeout: 1s\n", rcv.URL))
	a.waitReady(t)
	want := strings.ToValidUTF8(bad, "\uFFFD")

	var body string
	testenv.Eventually(t, 20*time.Second, "the interface on /metrics", func() error {
		code, b, err := a.get("/metrics")
		if err != nil || code != 200 {
			return fmt.Errorf("scrape: %d %v", code, err)
		}
		body = b
		if !strings.Contains(body, `network_interface_name="`+want+`"`) {
			return fmt.Errorf("no series for interface %q yet", want)
		}
		return nil
	})
	if !utf8.ValidString(body) {
		t.Fatal("the scrape is not valid UTF-8")
	}
	// The scrape loop's own parser, as a Prometheus server runs it.
	p, err := textparse.New([]byte(body), "text/plain; version=0.0.4", labels.NewSymbolTable(), textparse.ParserOptions{})
	if err != nil {
		t.Fatal(err)
	}
	series := 0
	for {
		e, err := p.Next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			t.Fatalf("Prometheus' parser rejects the scrape: %v", err)
		}
		if e == textparse.EntrySeries {
			var l labels.Labels
			p.Labels(&l)
			if !l.IsValid(prommodel.LegacyValidation) {
				t.Fatalf("invalid labels %s", l)
			}
			series++
		}
	}
	if series < 10 {
		t.Fatalf("only %d series parsed", series)
	}

	testenv.Eventually(t, 20*time.Second, "an OTLP export with the interface", func() error {
		n := rcv.Requests()
		if err := rcv.WaitFor(n+1, 5*time.Second); err != nil {
			return err
		}
		for _, pt := range rcv.Latest() {
			if pt.Name == "k8s.pod.network.io" && pt.Attributes["network.interface.name"] == want {
				return nil
			}
		}
		return fmt.Errorf("no container.network.io point for %q", want)
	})
	if v, _, ok := value(a.scrape(t), "fleetscope_otlp_export_failures_total", nil); !ok || v != 0 {
		t.Errorf("OTLP export failures = %v (present %v), want 0", v, ok)
	}
}
