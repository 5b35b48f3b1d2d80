package fleet

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"time"

	"github.com/fleetscope/fleetscope/report"
)

// sample is one series of an answer: the labels the report reads (every
// other label is dropped as it is read) and its value, or for a range
// query its points.
type sample struct {
	labels map[string]string
	value  float64
	time   time.Time
	points []point
}

// point is one value of a range query's series.
type point struct {
	time  time.Time
	value float64
}

// keptLabels are the labels a report is made of; a store's series carry
// many more (its own, the scrape's), which would only cost memory. A label
// that Reports reads must be listed here, or it reads as empty.
var keptLabels = func() map[string]bool {
	kept := map[string]bool{}
	for _, l := range append([]string{
		labelContainerID, labelContainerdNamespace, labelContainerName, labelPodContainerName, labelContainerImageName,
		labelPodName, labelNamespaceName, labelWorkloadKind, labelWorkloadName, labelPodSandbox, labelGPU,
		labelVerdict, labelPlatform, labelCurrency, labelWindow, labelReasonCode, labelReasonKind, labelStatistic,
		labelSource, labelBucket, labelResource,
	}, nodeLabels...) {
		kept[l] = true
	}
	return kept
}()

// errTooManySeries says an answer holds more series than are read.
type errTooManySeries struct{ max int }

func (e *errTooManySeries) Error() string {
	return fmt.Sprintf("the answer holds more than %d series, the most that is read of one answer", e.max)
}

// errStatus is an answer whose "status" is not "success".
type errStatus struct{ status, errorType, message string }

// errTooManyPoints says a range answer holds more points than are read.
type errTooManyPoints struct{ max int }

func (e *errTooManyPoints) Error() string {
	return fmt.Sprintf("the answer holds more than %d points, the most that is read of one answer", e.max)
}

// decodeAnswer reads a Prometheus API answer whose result is of type want
// ({"status":"success","data":{"resultType":"vector","result":[…]}}, or
// "matrix" for a range query) one token at a time, so that what it holds
// is the labels kept names of at most maxSeries series (and maxPoints
// points), never the answer itself: the bytes are bounded by the reader,
// and a series' labels, however many, are read one by one.
func decodeAnswer(r io.Reader, want string, kept map[string]bool, maxSeries, maxPoints int) ([]sample, error) {
	d := &decoder{dec: json.NewDecoder(r)}
	d.dec.UseNumber()
	var (
		st         errStatus
		resultType string
		out        []sample
	)
	err := d.object(func(key string) error {
		switch key {
		case "status":
			return d.string(&st.status)
		case "errorType":
			return d.string(&st.errorType)
		case "error":
			return d.string(&st.message)
		case "data":
			return d.object(func(key string) error {
				switch key {
				case "resultType":
					return d.string(&resultType)
				case "result":
					var err error
					out, err = d.result(kept, maxSeries, maxPoints)
					return err
				}
				return d.skip()
			})
		}
		return d.skip()
	})
	switch {
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return nil, errors.New("the answer ends before its JSON does")
	case err != nil:
		return nil, err
	case st.status != "success":
		return nil, &st
	case resultType != want:
		return nil, fmt.Errorf("a result of type %s, not a %s", report.Excerpt(resultType), want)
	}
	return out, nil
}

func (e *errStatus) Error() string {
	// All three are the store's words: escaped, and cut short.
	msg := "status " + strconv.Quote(report.Excerpt(e.status))
	if e.errorType != "" {
		msg += ", " + report.Excerpt(e.errorType)
	}
	if e.message != "" {
		msg += ": " + report.Excerpt(e.message)
	}
	return msg
}

type decoder struct{ dec *json.Decoder }

var errSyntax = errors.New("not the Prometheus API's JSON")

// object reads an object (or null), calling member for each key with the
// decoder at its value, which member must read.
func (d *decoder) object(member func(key string) error) error {
	tok, err := d.dec.Token()
	if err != nil {
		return err
	}
	if tok == nil {
		return nil
	}
	if tok != json.Delim('{') {
		return errSyntax
	}
	for d.dec.More() {
		tok, err := d.dec.Token()
		if err != nil {
			return err
		}
		key, _ := tok.(string)
		if err := member(key); err != nil {
			return err
		}
	}
	_, err = d.dec.Token() // '}'
	return err
}

// array reads an array (or null), calling elem with the decoder at each
// element, which elem must read.
func (d *decoder) array(elem func() error) error {
	tok, err := d.dec.Token()
	if err != nil {
		return err
	}
	if tok == nil {
		return nil
	}
	if tok != json.Delim('[') {
		return errSyntax
	}
	for d.dec.More() {
		if err := elem(); err != nil {
			return err
		}
	}
	_, err = d.dec.Token() // ']'
	return err
}

func (d *decoder) string(dst *string) error {
	tok, err := d.dec.Token()
	if err != nil {
		return err
	}
	s, ok := tok.(string)
	if !ok {
		return errSyntax
	}
	*dst = s
	return nil
}

// skip reads one value of any kind.
func (d *decoder) skip() error {
	depth := 0
	for {
		tok, err := d.dec.Token()
		if err != nil {
			return err
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
		if depth == 0 {
			return nil
		}
	}
}

// result reads a vector's samples, at most maxSeries of them.
func (d *decoder) result(kept map[string]bool, maxSeries, maxPoints int) ([]sample, error) {
	var out []sample
	points := 0
	err := d.array(func() error {
		if len(out) == maxSeries {
			return &errTooManySeries{max: maxSeries}
		}
		s := sample{labels: map[string]string{}}
		err := d.object(func(key string) error {
			switch key {
			case "metric":
				return d.object(func(name string) error {
					var v string
					if err := d.string(&v); err != nil {
						return err
					}
					if kept[name] {
						s.labels[name] = v
					}
					return nil
				})
			case "value":
				return d.value(&s)
			case "values":
				return d.array(func() error {
					if points++; points > maxPoints {
						return &errTooManyPoints{max: maxPoints}
					}
					var v sample
					if err := d.value(&v); err != nil {
						return err
					}
					s.points = append(s.points, point{v.time, v.value})
					return nil
				})
			}
			return d.skip()
		})
		out = append(out, s)
		return err
	})
	return out, err
}

// value reads a sample's [time, "value"].
func (d *decoder) value(s *sample) error {
	i := 0
	return d.array(func() error {
		tok, err := d.dec.Token()
		if err != nil {
			return err
		}
		switch v := tok.(type) {
		case json.Number:
			if i == 0 {
				f, err := v.Float64()
				if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
					return errSyntax
				}
				// Stores answer in milliseconds; a float has no more.
				s.time = time.UnixMilli(int64(math.Round(f * 1000)))
			}
		case string:
			if i == 1 {
				f, err := strconv.ParseFloat(v, 64)
				if err != nil {
					return errSyntax
				}
				s.value = f
			}
		case json.Delim:
			return errSyntax
		}
		i++
		return nil
	})
}
