package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// FieldErrors are problems with individual keys or variables (an unknown
// key, a value of the wrong type, an unknown FLEETSCOPE_ variable): the rest
// of the configuration was still read, so a caller may validate it too and
// report every problem at once.
type FieldErrors struct{ Err error }

var _ error = (*FieldErrors)(nil)

func (e *FieldErrors) Error() string { return e.Err.Error() }
func (e *FieldErrors) Unwrap() error { return e.Err }

// Load returns the defaults, overridden by the YAML file at path (unless path
// is empty), overridden by the FLEETSCOPE_ variables in environ. It does not
// validate the result; see Validate. An error that is a *FieldErrors comes
// with the configuration as far as it could be read; any other error (an
// unreadable file, broken YAML) with none.
func Load(path string, environ []string) (Config, error) {
	c := Default()
	var fields []error
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return Config{}, fmt.Errorf("reading configuration: %w", err)
		}
		if err := decode(data, path, &c); err != nil {
			var fe *FieldErrors
			if !errors.As(err, &fe) {
				return Config{}, err
			}
			fields = append(fields, fe.Err)
		}
	}
	if err := applyEnv(&c, environ); err != nil {
		fields = append(fields, err)
	}
	normalize(&c)
	if len(fields) > 0 {
		return c, &FieldErrors{errors.Join(fields...)}
	}
	return c, nil
}

// Parse returns the defaults overridden by the YAML document in data. Name
// identifies data in error messages, usually the file name.
func Parse(data []byte, name string) (Config, error) {
	c := Default()
	if err := decode(data, name, &c); err != nil {
		return Config{}, err
	}
	normalize(&c)
	return c, nil
}

// decode decodes one YAML document strictly into c, which holds the values
// that absent keys keep.
func decode(data []byte, name string, c *Config) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	switch err := dec.Decode(c); {
	case errors.Is(err, io.EOF):
		return nil // empty, or only comments
	case err != nil:
		var te *yaml.TypeError
		if errors.As(err, &te) {
			// The decoder went on past the keys it could not take.
			return &FieldErrors{explain(data, name, te)}
		}
		return fmt.Errorf("%s: %w", name, err)
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case errors.Is(err, io.EOF):
		return nil
	case err != nil:
		return fmt.Errorf("%s: %w", name, err)
	}
	return fmt.Errorf("%s:%d: a second YAML document; the configuration must be a single document", name, extra.Line)
}

// located is one key or value of the document, with the field it sets.
type located struct {
	line   int
	path   string       // dotted path; "" for the document itself
	key    string       // the key's text, for key nodes
	isKey  bool         // a mapping key rather than a value
	node   *yaml.Node   // value nodes only
	typ    reflect.Type // the Go type the value decodes into; nil if none
	parent reflect.Type // for keys: the struct the key belongs to
}

// explain rewrites the codec's line-numbered messages so that each one names
// the field it is about; the codec itself only knows Go types.
func explain(data []byte, name string, te *yaml.TypeError) error {
	var doc yaml.Node
	var index []located
	if yaml.Unmarshal(data, &doc) == nil {
		index = locate(&doc, reflect.TypeFor[Config](), "", nil, index)
	}
	errs := make([]error, 0, len(te.Errors))
	for _, msg := range te.Errors {
		line, rest, ok := cutLine(msg)
		if !ok {
			errs = append(errs, fmt.Errorf("%s: %s", name, msg))
			continue
		}
		errs = append(errs, fmt.Errorf("%s:%d: %s", name, line, describeError(index, line, rest)))
	}
	return errors.Join(errs...)
}

// cutLine splits "line 12: message" into 12 and "message".
func cutLine(msg string) (int, string, bool) {
	rest, ok := strings.CutPrefix(msg, "line ")
	if !ok {
		return 0, "", false
	}
	num, rest, ok := strings.Cut(rest, ": ")
	if !ok {
		return 0, "", false
	}
	line, err := strconv.Atoi(num)
	if err != nil {
		return 0, "", false
	}
	return line, rest, true
}

func describeError(index []located, line int, msg string) string {
	if rest, ok := strings.CutPrefix(msg, "field "); ok {
		if key, _, ok := strings.Cut(rest, " not found in type "); ok {
			for _, l := range index {
				if l.isKey && l.line == line && l.key == key {
					return fmt.Sprintf("unknown key %q (known keys: %s)", l.path, strings.Join(keysOf(l.parent), ", "))
				}
			}
		}
	}
	if rest, ok := strings.CutPrefix(msg, "mapping key "); ok {
		if quoted, first, ok := strings.Cut(rest, " already defined at line "); ok {
			key, err := strconv.Unquote(quoted)
			for _, l := range index {
				if err == nil && l.isKey && l.line == line && l.key == key {
					return fmt.Sprintf("duplicate key %q (first at line %s)", l.path, first)
				}
			}
		}
	}
	if i := strings.LastIndex(msg, " into "); strings.HasPrefix(msg, "cannot unmarshal ") && i >= 0 {
		into := msg[i+len(" into "):]
		for _, l := range index {
			if !l.isKey && l.line == line && l.typ != nil && l.typ.String() == into {
				var got string
				switch l.node.Kind {
				case yaml.MappingNode:
					got = "a mapping"
				case yaml.SequenceNode:
					got = "a list"
				default:
					got = strconv.Quote(l.node.Value)
				}
				what := fmt.Sprintf("invalid value %s, want %s", got, describe(l.typ))
				if l.path == "" {
					return what
				}
				return l.path + ": " + what
			}
		}
	}
	return msg
}

// locate appends to index every key and value under n, with the dotted path
// and Go type each decodes into.
func locate(n *yaml.Node, t reflect.Type, path string, parent reflect.Type, index []located) []located {
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			index = locate(c, t, path, parent, index)
		}
		return index
	case yaml.AliasNode:
		// Reported at the anchor, which is located where it is defined.
		return index
	}
	index = append(index, located{line: n.Line, path: path, node: n, typ: t})
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			p := k.Value
			if path != "" {
				p = path + "." + k.Value
			}
			var ft reflect.Type
			if t != nil && t.Kind() == reflect.Struct {
				index = append(index, located{line: k.Line, path: p, key: k.Value, isKey: true, parent: t})
				if f, ok := fieldByKey(t, k.Value); ok {
					ft = f.Type
				}
			}
			index = locate(v, ft, p, t, index)
		}
	case yaml.SequenceNode:
		var et reflect.Type
		if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
			et = t.Elem()
		}
		for i, c := range n.Content {
			index = locate(c, et, fmt.Sprintf("%s[%d]", path, i), t, index)
		}
	}
	return index
}
