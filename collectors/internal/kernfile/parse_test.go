package kernfile

import (
	"errors"
	"math"
	"strconv"
	"strings"
	"testing"
)

func TestParseUint(t *testing.T) {
	tests := []struct {
		in   string
		want uint64
		err  error
	}{
		{"0", 0, nil},
		{"42", 42, nil},
		{"0042", 42, nil},
		{"18446744073709551615", math.MaxUint64, nil},
		{"18446744073709551616", 0, ErrRange},
		{"99999999999999999999", 0, ErrRange},
		{"", 0, ErrSyntax},
		{"-1", 0, ErrSyntax},
		{"+1", 0, ErrSyntax},
		{" 1", 0, ErrSyntax},
		{"1 ", 0, ErrSyntax},
		{"1a", 0, ErrSyntax},
		{"abc", 0, ErrSyntax},
	}
	for _, tt := range tests {
		got, err := ParseUint([]byte(tt.in))
		if got != tt.want || err != tt.err {
			t.Errorf("ParseUint(%q) = %d, %v; want %d, %v", tt.in, got, err, tt.want, tt.err)
		}
	}
}

func FuzzUint(f *testing.F) {
	for _, s := range []string{"0", "42", "18446744073709551615", "18446744073709551616", "-1", "-9223372036854775808", "+1", "", "1a", "0001"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		digits := s != "" && strings.Trim(s, "0123456789") == ""
		n, err := ParseUint([]byte(s))
		want, werr := strconv.ParseUint(s, 10, 64)
		if wantOK := werr == nil && digits; (err == nil) != wantOK || (err == nil && n != want) {
			t.Fatalf("ParseUint(%q) = %d, %v; strconv says %d, %v", s, n, err, want, werr)
		}
		if err == ErrRange && !errors.Is(werr, strconv.ErrRange) {
			t.Fatalf("ParseUint(%q): %v; strconv says %v", s, err, werr)
		}
		i, err := ParseInt([]byte(s))
		wantI, werr := strconv.ParseInt(s, 10, 64)
		wantOK := werr == nil && strings.Trim(strings.TrimPrefix(s, "-"), "0123456789") == "" && strings.TrimPrefix(s, "-") != ""
		if (err == nil) != wantOK || (err == nil && i != wantI) {
			t.Fatalf("ParseInt(%q) = %d, %v; strconv says %d, %v", s, i, err, wantI, werr)
		}
	})
}

func TestTrimAndSplit(t *testing.T) {
	if got := string(TrimRight([]byte(" 12 \t\r\n"))); got != " 12" {
		t.Errorf("TrimRight = %q", got)
	}
	if got := string(TrimSpace([]byte("\t 12 \r\n"))); got != "12" {
		t.Errorf("TrimSpace = %q", got)
	}
	var fields []string
	for f, rest := NextField([]byte("  a\tb  c\n")); f != nil; f, rest = NextField(rest) {
		fields = append(fields, string(f))
	}
	if strings.Join(fields, ",") != "a,b,c" {
		t.Errorf("fields = %q", fields)
	}
	var lines []string
	for b := []byte("a\n\nb\n"); len(b) > 0; {
		var line []byte
		line, b = NextLine(b)
		lines = append(lines, string(line))
	}
	if strings.Join(lines, "|") != "a||b" {
		t.Errorf("lines = %q", lines)
	}
}

func TestKeyed(t *testing.T) {
	k := NewKeyed([]byte("a 1\nb 2\n"))
	var sum uint64
	for key, val, ok := k.Next(); ok; key, val, ok = k.Next() {
		sum += k.Uint(key, val)
	}
	if sum != 3 || k.Err() != nil {
		t.Errorf("sum %d, err %v", sum, k.Err())
	}
	for _, bad := range []string{"a 1", "a 1\nb\n", "a 1\nb x\n", "a \n", " 1\n"} {
		k := NewKeyed([]byte(bad))
		for key, val, ok := k.Next(); ok; key, val, ok = k.Next() {
			k.Uint(key, val)
		}
		if !errors.Is(k.Err(), ErrMalformed) {
			t.Errorf("%q: err %v, want ErrMalformed", bad, k.Err())
		}
	}
	k = NewKeyed([]byte("a x\nb y\n"))
	for key, val, ok := k.Next(); ok; key, val, ok = k.Next() {
		k.Uint(key, val)
	}
	if err := k.Err(); err == nil || !strings.Contains(err.Error(), `"x"`) {
		t.Errorf("err %v, want the first bad value", err)
	}
}

func TestClipAndComplete(t *testing.T) {
	long := strings.Repeat("x", 100)
	if len(Clip([]byte(long))) != 64 {
		t.Error("Clip does not bound")
	}
	if Complete(nil) != nil || Complete([]byte("a\n")) != nil {
		t.Error("complete content reported truncated")
	}
	err := Complete([]byte("a\nb " + long))
	if !errors.Is(err, ErrMalformed) || strings.Contains(err.Error(), long) || !strings.Contains(err.Error(), `"b x`) {
		t.Errorf("Complete = %v", err)
	}
}
