package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/pelletier/go-toml"
	"github.com/peterbourgon/ff/v3"
	"github.com/peterbourgon/ff/v3/fftoml"
)

// Serve's configuration comes from four places, each winning over the
// next: command-line flags, HERALD_<FLAG> environment variables, the TOML
// file named by --config (its keys are the flags' names), and the flags'
// defaults. [ff] reads the file into the flag set; the environment is
// applied here rather than by ff because ff reads the process's own
// environment, and [Main] is given its environment as an argument.

// Flags that steer the configuration rather than being part of it: neither
// the file nor a HERALD_* variable sets them (HERALD_CONFIG aside, read
// before the file is).
const (
	configFlag      = "config"
	printConfigFlag = "print-config"
)

// secretFlags are redacted by --print-config unless they name a file.
var secretFlags = map[string]bool{"publisher-key": true, "subscriber-key": true}

// configFlags adds --config and --print-config to a flag set parsed by
// parseServeFlags.
func configFlags(fs *flag.FlagSet, path *string, print *bool) {
	fs.StringVar(path, configFlag, "", "TOML file of settings, one key per flag (addr = \":8080\"); flags and HERALD_* variables win over it (env: HERALD_CONFIG)")
	fs.BoolVar(print, printConfigFlag, false, "print the effective configuration as a config file (secrets redacted) and exit")
}

// flagSources says where each flag that is not at its default got its
// value: "--addr", "HERALD_ADDR" or the config file's name.
type flagSources map[string]string

// envVar is the environment variable of a flag: HERALD_ and the name in
// capitals, dashes as underscores.
func envVar(flagName string) string {
	return "HERALD_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// parseServeFlags parses args, then the config file, then fills every flag
// not given on the command line from its HERALD_<NAME> environment
// variable. Only serve (and healthcheck, which finds serve's address the
// same way) reads the environment: a deployment's HERALD_RETRY is the
// server's retry hint, and must not become the retry of every event a
// `herald publish` in the same environment sends.
func parseServeFlags(env *Env, fset *flag.FlagSet, args []string) (flagSources, error) {
	if v, ok := env.vars[envVar(configFlag)]; ok && fset.Lookup(configFlag) != nil {
		_ = fset.Set(configFlag, v) // a string flag: never fails; --config overrides it
	}
	if err := parseFlags(fset, args); err != nil {
		return nil, err
	}
	if fset.NArg() > 0 {
		return nil, usageError{fmt.Sprintf("%s takes no arguments, got %s", fset.Name(), strings.Join(fset.Args(), " "))}
	}
	src := make(flagSources)
	fset.Visit(func(f *flag.Flag) {
		if f.Name != configFlag {
			src[f.Name] = "--" + f.Name
		}
	})

	if f := fset.Lookup(configFlag); f != nil && f.Value.String() != "" {
		if err := parseConfigFile(env, fset, f.Value.String(), src); err != nil {
			return nil, err
		}
	}

	var err error
	fset.VisitAll(func(f *flag.Flag) {
		if err != nil || f.Name == configFlag || f.Name == printConfigFlag || strings.HasPrefix(src[f.Name], "--") {
			return
		}
		key := envVar(f.Name)
		v, ok := env.vars[key]
		if !ok {
			return
		}
		if e := fset.Set(f.Name, v); e != nil {
			err = usageError{fmt.Sprintf("%s=%q: %v%s", key, v, e, valueHint(f))}
			return
		}
		src[f.Name] = key
	})
	return src, err
}

// parseConfigFile sets from the TOML file at path every flag that neither
// the command line nor the environment sets. A key that is no flag, a
// value a flag refuses and a file that is not TOML are errors naming the
// key or the line.
func parseConfigFile(env *Env, fset *flag.FlagSet, path string, src flagSources) error {
	seen := make(map[string]bool)
	parser := func(r io.Reader, set func(name, value string) error) error {
		return fftoml.Parser(r, func(name, value string) error {
			f := fset.Lookup(name)
			if f == nil || name == configFlag || name == printConfigFlag {
				return fileError{fmt.Sprintf("unknown key %q (the keys are the flags of herald %s, without dashes)", name, fset.Name())}
			}
			if seen[name] && !isList(f) {
				return fileError{fmt.Sprintf("%s: a list, but it takes one value", name)}
			}
			seen[name] = true
			if strings.HasPrefix(src[name], "--") {
				return nil // the command line wins
			}
			if _, ok := env.vars[envVar(name)]; ok {
				return nil // the environment wins; it is applied after the file
			}
			if err := set(name, value); err != nil {
				return fileError{fmt.Sprintf("%s = %q: %v%s", name, value, errors.Unwrap(err), valueHint(f))}
			}
			src[name] = path
			return nil
		})
	}
	err := ff.Parse(fset, []string{}, ff.WithConfigFile(path), ff.WithConfigFileParser(parser))
	if err == nil {
		return nil
	}
	var fe fileError
	switch {
	case errors.As(err, &fe):
		return usageError{fmt.Sprintf("--config %s: %s", path, fe.msg)}
	case errors.Is(err, fs.ErrNotExist), errors.As(err, new(*fs.PathError)):
		return usageError{fmt.Sprintf("--config: %v", err)}
	}
	var pe fftoml.ParseError
	if errors.As(err, &pe) {
		err = pe.Inner
	}
	return usageError{fmt.Sprintf("--config %s: %s", path, tomlPosition.ReplaceAllString(err.Error(), "line $1, column $2: "))}
}

// tomlPosition is how the TOML parser starts a syntax error: "(line, column): ".
var tomlPosition = regexp.MustCompile(`^\((\d+), (\d+)\): `)

// fileError is a mistake in the config file that names its key.
type fileError struct{ msg string }

func (e fileError) Error() string { return e.msg }

func isList(f *flag.Flag) bool {
	_, ok := f.Value.(*stringList)
	return ok
}

// valueHint says what a flag's values look like, for an error about one.
func valueHint(f *flag.Flag) string {
	g, ok := f.Value.(flag.Getter)
	if !ok {
		return ""
	}
	switch g.Get().(type) {
	case time.Duration:
		return ` (want a duration such as "15s", "1m30s" or "0")`
	case bool:
		return " (want true or false)"
	case int, int64:
		return " (want a whole number)"
	case float64:
		return " (want a number)"
	}
	return ""
}

// printConfig writes the effective configuration of fset as a TOML config
// file: every flag but --config and --print-config, in name order, with
// where its value came from. A secret is written as a comment, so the
// output stays a valid config file that sets no wrong key.
func printConfig(w io.Writer, fset *flag.FlagSet, src flagSources) error {
	fmt.Fprintf(w, "# herald %s: the effective configuration. Precedence: flag > HERALD_* variable > --config file > default;\n", fset.Name())
	fmt.Fprintf(w, "# a trailing comment says where a value came from (none: the default).\n")
	var names []string
	fset.VisitAll(func(f *flag.Flag) {
		if f.Name != configFlag && f.Name != printConfigFlag {
			names = append(names, f.Name)
		}
	})
	sort.Strings(names)
	for _, name := range names {
		f := fset.Lookup(name)
		line, err := tomlLine(f)
		if err != nil {
			return err
		}
		if v := f.Value.String(); secretFlags[name] && v != "" && !strings.HasPrefix(v, "file:") {
			line = fmt.Sprintf("# %s = (redacted)", name)
		}
		if s := src[name]; s != "" {
			line += "  # " + s
		}
		if _, err := fmt.Fprintln(w, line); err != nil {
			return err
		}
	}
	return nil
}

// tomlLine is `name = value` for a flag, its value typed as a config file
// would give it.
func tomlLine(f *flag.Flag) (string, error) {
	var v any = f.Value.String()
	if g, ok := f.Value.(flag.Getter); ok {
		switch x := g.Get().(type) {
		case time.Duration:
			v = x.String()
		case bool, int, int64, float64, string, []string:
			v = x
		}
	}
	b, err := toml.Marshal(map[string]any{f.Name: v})
	if err != nil {
		return "", fmt.Errorf("printing %s: %w", f.Name, err)
	}
	return strings.TrimSuffix(string(b), "\n"), nil
}
