package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// scrape is one GET of a metrics page.
type scrape struct {
	body    []byte
	latency time.Duration // request sent until the last byte of the body
}

// scrapeOnce fetches url the way Prometheus does: plain text format, no
// compression, so the byte count is the size of the exposition itself.
func scrapeOnce(ctx context.Context, client *http.Client, url string) (scrape, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return scrape{}, err
	}
	req.Header.Set("Accept", "text/plain;version=0.0.4")
	// Without this, net/http would ask for gzip and hide the real size.
	req.Header.Set("Accept-Encoding", "identity")
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return scrape{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	latency := time.Since(start)
	if err != nil {
		return scrape{}, fmt.Errorf("GET %s: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return scrape{}, fmt.Errorf("GET %s: %s: %.200s", url, resp.Status, body)
	}
	return scrape{body: body, latency: latency}, nil
}

// countSeries counts the samples of a text exposition, which is what
// Prometheus counts as series per scrape: every line that is neither blank
// nor a comment.
func countSeries(body []byte) int {
	n := 0
	for line := range bytes.Lines(body) {
		line = bytes.TrimSpace(line)
		if len(line) > 0 && line[0] != '#' {
			n++
		}
	}
	return n
}

// sample is one line of a text exposition.
type sample struct {
	name, labels, value []byte // labels without the braces
}

// parseSample splits a sample line. It handles the text format as the Go
// client and cAdvisor write it: no timestamps, label values without '}'.
func parseSample(line []byte) (sample, bool) {
	line = bytes.TrimSpace(line)
	if len(line) == 0 || line[0] == '#' {
		return sample{}, false
	}
	var s sample
	if i := bytes.IndexByte(line, '{'); i >= 0 {
		j := bytes.LastIndexByte(line, '}')
		if j < i {
			return sample{}, false
		}
		s.name, s.labels, s.value = line[:i], line[i+1:j], bytes.TrimSpace(line[j+1:])
	} else {
		i := bytes.IndexByte(line, ' ')
		if i < 0 {
			return sample{}, false
		}
		s.name, s.value = line[:i], bytes.TrimSpace(line[i+1:])
	}
	if i := bytes.IndexByte(s.value, ' '); i >= 0 {
		s.value = s.value[:i] // a timestamp follows
	}
	return s, true
}

// labelValue returns the value of label name in the inside of a label set.
func labelValue(labels []byte, name string) ([]byte, bool) {
	for len(labels) > 0 {
		eq := bytes.IndexByte(labels, '=')
		if eq < 0 || eq+1 >= len(labels) || labels[eq+1] != '"' {
			return nil, false
		}
		key := bytes.TrimSpace(labels[:eq])
		rest := labels[eq+2:]
		// Find the closing quote, skipping escaped ones.
		end := -1
		for k := 0; k < len(rest); k++ {
			if rest[k] == '\\' {
				k++
				continue
			}
			if rest[k] == '"' {
				end = k
				break
			}
		}
		if end < 0 {
			return nil, false
		}
		if string(key) == name {
			return rest[:end], true
		}
		labels = bytes.TrimLeft(rest[end+1:], ", ")
	}
	return nil, false
}

// fleetscopeSeen is how many running containers the agent reported in its
// latest snapshot: fleetscope_containers_tracked{state="running"}. The agent
// watches only the test's containerd, so there are no others.
func fleetscopeSeen(body []byte, _ map[string]bool) (seen, others int) {
	for line := range bytes.Lines(body) {
		s, ok := parseSample(line)
		if !ok || string(s.name) != "fleetscope_containers_tracked" {
			continue
		}
		if v, _ := labelValue(s.labels, "state"); string(v) != "running" {
			continue
		}
		f, err := strconv.ParseFloat(string(s.value), 64)
		if err != nil {
			return 0, 0
		}
		return int(f), 0
	}
	return 0, 0
}

// cadvisorSeen counts the distinct containers of namespace that cAdvisor
// reports CPU usage for, ours and others. cAdvisor names a containerd
// container by its cgroup, which ctr puts at /<namespace>/<id>; it watches
// every cgroup of the host, so containers of another containerd using the
// same namespace show up too.
func cadvisorSeen(namespace string) func([]byte, map[string]bool) (int, int) {
	prefix := "/" + namespace + "/"
	return func(body []byte, ours map[string]bool) (seen, others int) {
		ids := make(map[string]bool)
		for line := range bytes.Lines(body) {
			s, ok := parseSample(line)
			if !ok || string(s.name) != "container_cpu_usage_seconds_total" {
				continue
			}
			if id, ok := labelValue(s.labels, "id"); ok && bytes.HasPrefix(id, []byte(prefix)) {
				ids[string(id[len(prefix):])] = true
			}
		}
		for id := range ids {
			if ours[id] {
				seen++
			} else {
				others++
			}
		}
		return seen, others
	}
}
