package fleet

import (
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

// decodeVector and decodeMatrix decode as the querier does, with a
// report's labels.
func decodeVector(r io.Reader, maxSeries int) ([]sample, error) {
	return decodeAnswer(r, "vector", keptLabels, maxSeries, 0)
}

func decodeMatrix(r io.Reader, maxSeries, maxPoints int) ([]sample, error) {
	return decodeAnswer(r, "matrix", keptLabels, maxSeries, maxPoints)
}

func TestDecodeVector(t *testing.T) {
	vec, err := decodeVector(strings.NewReader(`{"status":"success","warnings":["w"],"data":{"resultType":"vector","result":[
		{"metric":{"__name__":"m","container_id":"c1","job":"j","node":"n1"},"value":[1764590400.123,"0.25"]},
		{"value":[1764590401,"NaN"],"metric":{"k8s_pod_name":"p\u001b[2J"},"extra":{"a":[1,{"b":null}]}}]}}`), 10)
	if err != nil || len(vec) != 2 {
		t.Fatalf("%+v, %v", vec, err)
	}
	if l := vec[0].labels; len(l) != 2 || l["container_id"] != "c1" || l["node"] != "n1" || vec[0].value != 0.25 ||
		!vec[0].time.Equal(time.UnixMilli(1764590400123)) {
		t.Errorf("first sample %+v", vec[0])
	}
	if vec[1].labels["k8s_pod_name"] != "p\x1b[2J" || vec[1].value == vec[1].value {
		t.Errorf("second sample %+v", vec[1])
	}
	for _, tc := range []struct{ in, want string }{
		{``, "ends before"},
		{`{"status":"success","data":{"resultType":"vector","result":[{"metric":{}`, "end of JSON input"},
		{`[]`, "not the Prometheus API's JSON"},
		{`{"status":"success","data":{"resultType":"matrix","result":[]}}`, "matrix, not a vector"},
		{`{"status":"error","errorType":"timeout","error":"query timed out"}`, `status "error", timeout: query timed out`},
		{`{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"1"]},{"metric":{},"value":[1,"1"]}]}}`, "more than 1 series"},
		{`{"status":"success","data":{"resultType":"vector","result":[{"metric":{"a":1},"value":[1,"1"]}]}}`, "not the Prometheus API's JSON"},
		{`{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"one"]}]}}`, "not the Prometheus API's JSON"},
	} {
		_, err := decodeVector(strings.NewReader(tc.in), 1)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.in, err, tc.want)
		}
	}
	var many *errTooManySeries
	if _, err := decodeVector(strings.NewReader(`{"status":"success","data":{"result":[{},{}],"resultType":"vector"}}`), 1); !errors.As(err, &many) {
		t.Errorf("series bound: %v", err)
	}
}

func FuzzDecodeVector(f *testing.F) {
	for _, s := range []string{
		`{"status":"success","data":{"resultType":"vector","result":[{"metric":{"container_id":"c"},"value":[1,"1"]}]}}`,
		`{"status":"error","errorType":"bad_data","error":"x"}`,
		`{"data":null}`, `[`, `{"status":"success","data":{"resultType":"vector","result":[{},{},{}]}}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		vec, err := decodeVector(strings.NewReader(in), 2)
		if err != nil {
			return
		}
		if len(vec) > 2 {
			t.Errorf("%d series past a bound of 2", len(vec))
		}
		for _, s := range vec {
			for name := range s.labels {
				if !keptLabels[name] {
					t.Errorf("label %q kept", name)
				}
			}
		}
	})
}

// A range answer keeps each series' points, at most maxPoints in all.
func TestDecodeMatrix(t *testing.T) {
	in := `{"status":"success","data":{"resultType":"matrix","result":[
		{"metric":{"container_id":"c1","job":"j"},"values":[[1764590400,"60"],[1764594000,"120"]]},
		{"metric":{"container_id":"c2"},"values":[[1764590400,"0"]]}]}}`
	mat, err := decodeMatrix(strings.NewReader(in), 10, 3)
	if err != nil || len(mat) != 2 {
		t.Fatalf("%+v, %v", mat, err)
	}
	if p := mat[0].points; len(p) != 2 || p[1].value != 120 || !p[1].time.Equal(time.Unix(1764594000, 0)) || len(mat[0].labels) != 1 {
		t.Errorf("first series %+v", mat[0])
	}
	var many *errTooManyPoints
	if _, err := decodeMatrix(strings.NewReader(in), 10, 2); !errors.As(err, &many) {
		t.Errorf("3 points read with a cap of 2: %v", err)
	}
	for _, bad := range []string{
		`{"status":"success","data":{"resultType":"vector","result":[]}}`,
		`{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1,"x"]]}]}}`,
		`{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[{"a":1}]}]}}`,
	} {
		if _, err := decodeMatrix(strings.NewReader(bad), 10, 10); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}
