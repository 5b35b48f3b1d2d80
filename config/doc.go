// Package config defines the agent's configuration: one Config struct, its
// defaults, strict YAML loading, environment overrides and validation.
//
// Configuration is assembled in three layers, each overriding the previous:
//
//  1. Default(), the only place where default values are written down.
//  2. A YAML file, decoded strictly: an unknown or duplicated key, or a value
//     of the wrong type, is an error that names the file, the line and the
//     dotted field path. Keys missing from the file keep their defaults.
//  3. Environment variables.
//
// # Environment variables
//
// Every setting has a variable named FLEETSCOPE_ followed by its YAML path in
// upper case, with the path elements joined by underscores:
//
//	containerd.socket         FLEETSCOPE_CONTAINERD_SOCKET
//	sampling.interval         FLEETSCOPE_SAMPLING_INTERVAL
//	web.listen_address        FLEETSCOPE_WEB_LISTEN_ADDRESS
//
// The names are derived from the struct's yaml tags, so a new section or key
// gets its variable without further code; EnvVars lists them all. Values are
// written as in YAML scalars: durations as Go duration strings ("10s"),
// booleans as accepted by strconv.ParseBool, numbers in decimal, and lists
// as comma-separated items (an empty value is an empty list). A value that
// does not parse is an error naming the variable, and so is any FLEETSCOPE_
// variable that matches no setting, so that a misspelt override is not
// silently ignored. A type with an UnmarshalText method is parsed by it.
// Settings with no obvious textual form (maps, lists of structs) have no
// variable and can only be set in the file; their fields are tagged
// `env:"-"`, which a test enforces so that the choice is explicit.
//
// Load does not validate; call Config.Validate, which reports every problem
// at once, each as a *FieldError naming its field.
package config
