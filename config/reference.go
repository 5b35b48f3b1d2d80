package config

import (
	"encoding"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// Setting is one key of the configuration as its reference page shows it:
// generated from Config's yaml tags and Default(), so the page cannot fall
// behind the code.
type Setting struct {
	// Path is the dotted YAML path, e.g. "sampling.interval".
	Path string
	// Env is the environment variable that overrides it.
	Env string
	// Type says in words what a value looks like.
	Type string
	// Default is Default()'s value as it is written in YAML.
	Default string
}

// Settings lists every key of Config, in the order of its fields, with its
// default.
func Settings() []Setting {
	def := reflect.ValueOf(Default())
	s := settings()
	out := make([]Setting, len(s))
	for i := range s {
		out[i] = Setting{
			Path:    s[i].path,
			Env:     s[i].env,
			Type:    describe(s[i].typ),
			Default: formatDefault(def.FieldByIndex(s[i].index)),
		}
	}
	return out
}

// formatDefault writes v as a configuration file would hold it.
func formatDefault(v reflect.Value) string {
	if m, ok := v.Interface().(encoding.TextMarshaler); ok {
		b, err := m.MarshalText()
		if err == nil {
			return string(b)
		}
	}
	if v.Type() == durationType {
		return shortDuration(time.Duration(v.Int()))
	}
	switch v.Kind() {
	case reflect.String:
		if v.String() == "" {
			return `""`
		}
		return v.String()
	case reflect.Bool:
		return strconv.FormatBool(v.Bool())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.FormatInt(v.Int(), 10)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return strconv.FormatUint(v.Uint(), 10)
	case reflect.Float32, reflect.Float64:
		return strconv.FormatFloat(v.Float(), 'f', -1, 64)
	case reflect.Slice:
		items := make([]string, v.Len())
		for i := range items {
			items[i] = formatDefault(v.Index(i))
		}
		return "[" + strings.Join(items, ", ") + "]"
	}
	return v.Type().String()
}

// shortDuration writes d without the zero units time.Duration's String
// appends ("5m" rather than "5m0s").
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
