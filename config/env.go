package config

import (
	"encoding"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// applyEnv overrides c with the FLEETSCOPE_ variables in environ ("KEY=value"
// entries, as from os.Environ). It reports every bad or unknown variable at
// once. When a variable appears twice, the later entry wins, as it does for
// os/exec.
func applyEnv(c *Config, environ []string) error {
	byName := make(map[string]setting, len(settings()))
	for _, s := range settings() {
		byName[s.env] = s
	}
	root := reflect.ValueOf(c).Elem()
	var errs []error
	for _, kv := range environ {
		name, value, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(name, envPrefix) {
			continue
		}
		s, ok := byName[name]
		if !ok {
			errs = append(errs, fmt.Errorf("environment variable %s: no such setting", name))
			continue
		}
		if err := setFromString(root.FieldByIndex(s.index), value); err != nil {
			errs = append(errs, fmt.Errorf("environment variable %s (%s): %w", name, s.path, err))
		}
	}
	return errors.Join(errs...)
}

// setFromString parses raw according to v's type and stores it in v; v is
// left unchanged on error.
func setFromString(v reflect.Value, raw string) error {
	t := v.Type()
	bad := func() error { return fmt.Errorf("invalid value %q, want %s", raw, describe(t)) }
	if u, ok := v.Addr().Interface().(encoding.TextUnmarshaler); ok {
		if err := u.UnmarshalText([]byte(raw)); err != nil {
			return fmt.Errorf("invalid value %q: %w", raw, err)
		}
		return nil
	}
	if t == durationType {
		d, err := time.ParseDuration(raw)
		if err != nil {
			return bad()
		}
		v.SetInt(int64(d))
		return nil
	}
	switch t.Kind() {
	case reflect.String:
		v.SetString(raw)
	case reflect.Bool:
		b, err := strconv.ParseBool(raw)
		if err != nil {
			return bad()
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, err := strconv.ParseInt(raw, 10, t.Bits())
		if err != nil {
			return bad()
		}
		v.SetInt(n)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n, err := strconv.ParseUint(raw, 10, t.Bits())
		if err != nil {
			return bad()
		}
		v.SetUint(n)
	case reflect.Float32, reflect.Float64:
		f, err := strconv.ParseFloat(raw, t.Bits())
		if err != nil {
			return bad()
		}
		v.SetFloat(f)
	case reflect.Slice:
		// Only lists of strings are settable (see envSupported).
		var items []string
		for item := range strings.SplitSeq(raw, ",") {
			if item = strings.TrimSpace(item); item != "" {
				items = append(items, item)
			}
		}
		v.Set(reflect.ValueOf(items).Convert(t))
	default:
		return fmt.Errorf("cannot be set from the environment")
	}
	return nil
}
