// Package cli implements the herald command: its subcommands, flags and
// environment. Everything main does is [Main], so tests run the real
// program in-process with their own arguments.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime/debug"
	"strings"

	"github.com/heraldhub/herald/internal/bench"
)

// Version is the program's version, set at build time with
// -ldflags "-X github.com/heraldhub/herald/internal/cli.Version=v1.2.3".
var Version = ""

// version returns Version, or the module version the binary was built from.
func version() string {
	if Version != "" {
		return Version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}

// Env is the environment the program runs in.
type Env struct {
	ctx    context.Context
	vars   map[string]string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

const usage = `herald — real-time push server (Server-Sent Events, Mercure protocol)

Usage:
  herald serve      [flags]   run the hub
  herald publish    [flags] [DATA]   publish an event (DATA, or standard input)
  herald subscribe  [flags]   print the events of topics, reconnecting and resuming
  herald token      [flags]   mint a JWT with publish/subscribe and state tree grants
  herald revoke     [flags] JTI...   revoke tokens by their ID (jti claim)
  herald bench SCENARIO [flags]   load-test a hub (idle, fanout, publish, resume, soak) or its state tree (db-*)
  herald healthcheck [serve flags]   ask the hub those flags describe for /healthz (exit 0 if healthy)
  herald version              print the version

Run "herald COMMAND --help" for a command's flags. Every flag of serve can
also be set with an environment variable HERALD_<FLAG>, e.g. HERALD_ADDR, or
as a key of the TOML file given with --config (addr = ":8080"); a flag wins
over the environment, which wins over the file. "herald serve --print-config"
shows the result.
`

// Main runs the herald command with args (without the program name) and
// returns the process exit code: 0 success, 1 failure, 2 usage error.
func Main(ctx context.Context, args []string, environ []string, stdin io.Reader, stdout, stderr io.Writer) int {
	env := &Env{ctx: ctx, vars: make(map[string]string), stdin: stdin, stdout: stdout, stderr: stderr}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env.vars[k] = v
		}
	}
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch cmd, rest := args[0], args[1:]; cmd {
	case "serve":
		err = serve(env, rest)
	case "publish":
		err = publish(env, rest)
	case "subscribe":
		err = subscribe(env, rest)
	case "token":
		err = token(env, rest)
	case "revoke":
		err = revoke(env, rest)
	case "healthcheck":
		err = healthcheck(env, rest)
	case "bench":
		return bench.Command(ctx, rest, stdout, stderr)
	case "version", "--version", "-version":
		fmt.Fprintln(stdout, "herald", version())
		return 0
	case "help", "-h", "--help", "-help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "herald: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, new(usageError)):
		fmt.Fprintln(stderr, "herald:", err)
		return 2
	default:
		fmt.Fprintln(stderr, "herald:", err)
		return 1
	}
}

// usageError is a mistake in the command line.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// newFlagSet returns a flag set that reports errors to the caller.
func newFlagSet(env *Env, name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	fs.Usage = func() {
		fmt.Fprintf(env.stderr, "Usage: herald %s\n\nFlags:\n", synopsis)
		printDefaults(env.stderr, fs)
	}
	return fs
}

// printDefaults is flag.PrintDefaults with the flags written as the
// documentation writes them, --name (the flag package takes one dash or
// two).
func printDefaults(w io.Writer, fs *flag.FlagSet) {
	fs.VisitAll(func(f *flag.Flag) {
		kind, usage := flag.UnquoteUsage(f)
		line := "  --" + f.Name
		if kind != "" {
			line += " " + kind
		}
		line += "\n    \t" + strings.ReplaceAll(usage, "\n", "\n    \t")
		switch f.DefValue {
		case "", "0", "false", "0s", "[]":
		default:
			if kind == "string" {
				line += fmt.Sprintf(" (default %q)", f.DefValue)
			} else {
				line += fmt.Sprintf(" (default %v)", f.DefValue)
			}
		}
		fmt.Fprintln(w, line)
	})
}

// parseFlags parses args, flags and arguments in any order ("herald
// publish hello --topic demo" as well as "--topic demo hello"); after "--"
// everything is an argument. fs.Args() then returns the arguments.
func parseFlags(fs *flag.FlagSet, args []string) error {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return err
			}
			return usageError{err.Error()}
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			positional = append(positional, rest...)
			break
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
	// Parsing "--" and the arguments leaves them as fs.Args().
	return fs.Parse(append([]string{"--"}, positional...))
}

// clientEnv fills the client commands' --hub and --token, when not given,
// from HERALD_HUB and HERALD_TOKEN. Only these two: a deployment's other
// HERALD_ variables are the server's (see parseServeFlags).
func clientEnv(env *Env, fs *flag.FlagSet) error {
	set := make(map[string]bool)
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	for _, name := range []string{"hub", "token"} {
		key := "HERALD_" + strings.ToUpper(name)
		if v, ok := env.vars[key]; ok && !set[name] && fs.Lookup(name) != nil {
			if err := fs.Set(name, v); err != nil {
				return usageError{fmt.Sprintf("%s=%q: %v", key, v, err)}
			}
		}
	}
	return nil
}

// stringList is a repeatable flag; a comma-separated value also adds
// several entries when split is set.
type stringList struct {
	values []string
	split  bool
}

func (l *stringList) String() string { return strings.Join(l.values, ",") }

// Get returns the values, for --print-config.
func (l *stringList) Get() any { return l.values }

func (l *stringList) Set(v string) error {
	if !l.split {
		l.values = append(l.values, v)
		return nil
	}
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			l.values = append(l.values, p)
		}
	}
	return nil
}
