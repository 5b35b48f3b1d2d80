package config

import (
	"encoding"
	"reflect"
	"strings"
	"sync"
	"time"

	"go.yaml.in/yaml/v3"
)

// envPrefix starts every environment variable the agent reads.
const envPrefix = "FLEETSCOPE_"

var (
	durationType        = reflect.TypeFor[time.Duration]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
	yamlUnmarshalerType = reflect.TypeFor[yaml.Unmarshaler]()
)

// isScalar reports whether a value of type t is written as one YAML scalar
// although it may be a struct, as for a type with its own text form.
func isScalar(t reflect.Type) bool {
	p := reflect.PointerTo(t)
	return p.Implements(textUnmarshalerType) || p.Implements(yamlUnmarshalerType)
}

// setting is one leaf of Config that can be set from the environment.
type setting struct {
	path  string // dotted YAML path, e.g. "sampling.interval"
	env   string // e.g. "FLEETSCOPE_SAMPLING_INTERVAL"
	index []int  // field index path from Config, for FieldByIndex
	typ   reflect.Type
}

// settings is derived once from Config's yaml tags.
var settings = sync.OnceValue(func() []setting {
	var out []setting
	walkFields(reflect.TypeFor[Config](), nil, nil, func(path []string, index []int, f reflect.StructField) {
		if f.Tag.Get("env") == "-" || !envSupported(f.Type) {
			return
		}
		out = append(out, setting{
			path:  strings.Join(path, "."),
			env:   envPrefix + strings.ToUpper(strings.Join(path, "_")),
			index: index,
			typ:   f.Type,
		})
	})
	return out
})

// walkFields calls leaf for every field of t that is not itself a struct,
// descending into struct fields and naming each by its YAML key.
func walkFields(t reflect.Type, path []string, index []int, leaf func(path []string, index []int, f reflect.StructField)) {
	for i := range t.NumField() {
		f := t.Field(i)
		key, ok := yamlKey(f)
		if !ok {
			continue
		}
		// Fresh slices: the callee may keep them.
		p := append(path[:len(path):len(path)], key)
		idx := append(index[:len(index):len(index)], i)
		if f.Type.Kind() == reflect.Struct && !isScalar(f.Type) {
			walkFields(f.Type, p, idx, leaf)
			continue
		}
		leaf(p, idx, f)
	}
}

// yamlKey returns the key under which the YAML codec reads f, or false if it
// ignores f.
func yamlKey(f reflect.StructField) (string, bool) {
	if !f.IsExported() {
		return "", false
	}
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	switch name {
	case "-":
		return "", false
	case "":
		// The codec's own default for untagged fields.
		return strings.ToLower(f.Name), true
	}
	return name, true
}

// fieldByKey returns the field of struct type t read under YAML key key.
func fieldByKey(t reflect.Type, key string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		if k, ok := yamlKey(f); ok && k == key {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

// keysOf lists the YAML keys of struct type t, for error messages.
func keysOf(t reflect.Type) []string {
	var keys []string
	for i := range t.NumField() {
		if k, ok := yamlKey(t.Field(i)); ok {
			keys = append(keys, k)
		}
	}
	return keys
}

func envSupported(t reflect.Type) bool {
	if reflect.PointerTo(t).Implements(textUnmarshalerType) {
		return true
	}
	switch t.Kind() {
	case reflect.String, reflect.Bool,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return true
	case reflect.Slice:
		return t.Elem().Kind() == reflect.String
	}
	return false
}

// describe says in words what a value of type t looks like.
func describe(t reflect.Type) string {
	if t == durationType {
		return `a duration such as "10s"`
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "an integer"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a non-negative integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.String {
			return "a list of strings"
		}
		return "a list"
	case reflect.Struct, reflect.Map:
		return "a mapping"
	}
	return "a " + t.String()
}

// EnvVars lists every environment variable that overrides a setting, in the
// order of the settings in Config.
func EnvVars() []string {
	s := settings()
	names := make([]string, len(s))
	for i := range s {
		names[i] = s[i].env
	}
	return names
}

// normalize makes empty lists nil, so that "namespaces: []", an empty
// environment variable and an absent key all mean the same Config.
func normalize(c *Config) {
	root := reflect.ValueOf(c).Elem()
	for _, s := range settings() {
		if v := root.FieldByIndex(s.index); v.Kind() == reflect.Slice && v.Len() == 0 {
			v.SetZero()
		}
	}
}
