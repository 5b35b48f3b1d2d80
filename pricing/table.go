package pricing

import (
	"bytes"
	_ "embed"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
)

// Row is one instance type's price.
type Row struct {
	Provider, InstanceType, Region string
	VCPUs, MemoryGiB               float64
	GPUs                           int
	// Hourly is the on-demand price an hour; SpotHourly a typical spot
	// price, 0 when the table has none.
	Hourly, SpotHourly float64
	Currency           string
	// Source and Date say where the row's prices come from and when.
	Source, Date string
}

// describe is the row as a price source.
func (r *Row) describe(hourly float64, spot bool, discount float64, table string) string {
	kind := "on-demand"
	if spot {
		kind = "spot"
	}
	s := fmt.Sprintf("%s %s (%s %s), %s %.4f %s an hour", table, r.InstanceType, r.Provider, r.Region, kind, hourly, r.Currency)
	if discount > 0 {
		s += fmt.Sprintf(" after a %.0f %% discount", discount*100)
	}
	return s + "; " + r.Source + ", " + r.Date + "; split into CPU, memory and GPU as OpenCost does"
}

// Table is a price table: instance type → price.
type Table struct {
	// Name says which table it is, for sources and errors: its file, or
	// "the built-in price table".
	Name string
	rows map[string]Row
}

// Bounds of a table file.
const (
	maxTableBytes = 1 << 20
	maxTableRows  = 10_000
)

// tableColumns are a table's columns, in this order, named on its first
// line.
var tableColumns = []string{"provider", "instance_type", "region", "vcpus", "memory_gib", "gpus", "hourly", "spot_hourly", "currency", "source", "date"}

//go:embed table.csv
var builtIn []byte

// BuiltIn is the table that ships with Fleetscope: a few common AWS, GCP
// and Azure types, each row with its source and date.
func BuiltIn() *Table {
	t, err := ParseTable(bytes.NewReader(builtIn), "the built-in price table")
	if err != nil {
		panic(err) // a test parses it
	}
	return t
}

// LoadTable reads the table in path.
func LoadTable(path string) (*Table, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("price table: %w", err)
	}
	defer f.Close()
	return ParseTable(f, path)
}

// ParseTable reads a table in CSV: the columns of tableColumns named on the
// first line, a row per instance type; lines starting with # are comments.
// Errors name the table, the line and the column.
func ParseTable(r io.Reader, name string) (*Table, error) {
	t := &Table{Name: name, rows: map[string]Row{}}
	err := readCSV(r, "price table "+name, tableColumns, func(rec []string) error {
		row, err := parseRow(rec)
		if err != nil {
			return err
		}
		key := strings.ToLower(row.InstanceType)
		if _, dup := t.rows[key]; dup {
			return fmt.Errorf("%s is listed twice", row.InstanceType)
		}
		t.rows[key] = row
		return nil
	})
	return t, err
}

// readCSV reads a table in CSV of at most maxTableBytes and maxTableRows:
// columns named on its first line, lines starting with # comments. Each
// row goes to add, trimmed; errors are prefixed with what and the line.
func readCSV(r io.Reader, what string, columns []string, add func(rec []string) error) error {
	data, err := io.ReadAll(io.LimitReader(r, maxTableBytes+1))
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if len(data) > maxTableBytes {
		return fmt.Errorf("%s: larger than %d bytes", what, maxTableBytes)
	}
	cr := csv.NewReader(bytes.NewReader(data))
	cr.Comment = '#'
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	head, err := cr.Read()
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	for i, c := range columns {
		if i >= len(head) {
			return fmt.Errorf("%s: column %d is missing, want %q (columns: %s)", what, i+1, c, strings.Join(columns, ","))
		}
		if strings.TrimSpace(head[i]) != c {
			return fmt.Errorf("%s: column %d is %q, want %q (columns: %s)", what, i+1, head[i], c, strings.Join(columns, ","))
		}
	}
	cr.FieldsPerRecord = len(columns)
	for rows := 0; ; rows++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		line, _ := cr.FieldPos(0)
		if rows == maxTableRows {
			return fmt.Errorf("%s: more than %d rows", what, maxTableRows)
		}
		for i := range rec {
			rec[i] = strings.TrimSpace(rec[i])
		}
		if err := add(rec); err != nil {
			return fmt.Errorf("%s, line %d: %w", what, line, err)
		}
	}
}

// parseRow reads one row's fields.
func parseRow(rec []string) (Row, error) {
	r := Row{Provider: rec[0], InstanceType: rec[1], Region: rec[2], Currency: rec[8], Source: rec[9], Date: rec[10]}
	if r.InstanceType == "" || r.Currency == "" || r.Source == "" || r.Date == "" {
		return r, errors.New("instance_type, currency, source and date must not be empty")
	}
	nums := []struct {
		col  string
		v    string
		dst  *float64
		need bool
	}{
		{"vcpus", rec[3], &r.VCPUs, true}, {"memory_gib", rec[4], &r.MemoryGiB, true},
		{"hourly", rec[6], &r.Hourly, true}, {"spot_hourly", rec[7], &r.SpotHourly, false},
	}
	for _, n := range nums {
		if n.v == "" && !n.need {
			continue
		}
		f, err := strconv.ParseFloat(n.v, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || (n.need && f == 0) {
			return r, fmt.Errorf("%s %q is not a positive number", n.col, n.v)
		}
		*n.dst = f
	}
	if rec[5] != "" {
		g, err := strconv.Atoi(rec[5])
		if err != nil || g < 0 || g > 64 {
			return r, fmt.Errorf("gpus %q is not a count from 0 to 64", rec[5])
		}
		r.GPUs = g
	}
	return r, nil
}

// Lookup finds an instance type's row, ignoring case.
func (t *Table) Lookup(instanceType string) (Row, bool) {
	r, ok := t.rows[strings.ToLower(strings.TrimSpace(instanceType))]
	return r, ok
}

// Len is the number of rows.
func (t *Table) Len() int { return len(t.rows) }
