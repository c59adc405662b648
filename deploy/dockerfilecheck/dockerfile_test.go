// Package dockerfilecheck lints deploy/Dockerfile with BuildKit's own
// checks, the ones `docker build --check` runs, without a Docker daemon or
// a registry: base images resolve to an empty linux/amd64 config. It is a
// module of its own so that BuildKit stays out of Herald's go.mod; `make
// packaging-check` runs it.
package dockerfilecheck

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/client/llb/sourceresolver"
	"github.com/moby/buildkit/frontend/dockerfile/dockerfile2llb"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/opencontainers/go-digest"
)

const dockerfile = "../Dockerfile"

// offlineImages answers every base image with an empty linux/amd64 image,
// so linting needs no registry.
type offlineImages struct{}

func (offlineImages) ResolveImageConfig(_ context.Context, ref string, _ sourceresolver.Opt) (string, digest.Digest, []byte, error) {
	return ref, digest.FromString(ref), []byte(`{"architecture":"amd64","os":"linux","config":{}}`), nil
}

func lint(t *testing.T, dt []byte) []string {
	t.Helper()
	res, err := dockerfile2llb.DockerfileLint(context.Background(), dt, dockerfile2llb.ConvertOpt{
		SourceMap:    &llb.SourceMap{Definition: &llb.Definition{}, Filename: dockerfile, Language: "Dockerfile", Data: dt},
		MetaResolver: offlineImages{},
	})
	if err != nil {
		t.Fatal(err)
	}
	var problems []string
	if res.Error != nil {
		problems = append(problems, "error: "+res.Error.Message)
	}
	for _, w := range res.Warnings {
		problems = append(problems, w.RuleName+": "+w.Detail+" ("+w.URL+")")
	}
	return problems
}

func TestDockerfileLint(t *testing.T) {
	dt, err := os.ReadFile(dockerfile)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range lint(t, dt) {
		t.Errorf("%s: %s", dockerfile, p)
	}
}

// TestLintCatches shows the check is live: a Dockerfile with known faults
// is reported.
func TestLintCatches(t *testing.T) {
	got := strings.Join(lint(t, []byte("from alpine as Build\nENV A=$UNDEFINED\nCMD herald serve\nMAINTAINER x\n")), "\n")
	for _, rule := range []string{"StageNameCasing", "ConsistentInstructionCasing", "JSONArgsRecommended", "MaintainerDeprecated", "UndefinedVar"} {
		if !strings.Contains(got, rule) {
			t.Errorf("%s not reported; got:\n%s", rule, got)
		}
	}
}

// TestDockerfileShape checks what the deployment relies on: a static
// build, a non-root user, and a health check by the binary itself.
func TestDockerfileShape(t *testing.T) {
	f, err := os.Open(dockerfile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := parser.Parse(f)
	if err != nil {
		t.Fatal(err)
	}
	var from, user, health []string
	static := false
	for _, n := range res.AST.Children {
		args := n.Original
		switch strings.ToLower(n.Value) {
		case "from":
			from = append(from, args)
		case "user":
			user = append(user, args)
		case "healthcheck":
			health = append(health, args)
		case "run":
			static = static || strings.Contains(args, "CGO_ENABLED=0")
		}
	}
	if len(from) < 2 {
		t.Errorf("not multi-stage: %q", from)
	}
	if len(user) == 0 || strings.Contains(user[len(user)-1], "root") || strings.HasSuffix(user[len(user)-1], " 0") {
		t.Errorf("the final user is root: %q", user)
	}
	if !static {
		t.Error("the binary is not built with CGO_ENABLED=0")
	}
	if len(health) != 1 || !strings.Contains(health[0], `"healthcheck"`) {
		t.Errorf("HEALTHCHECK = %q, want herald healthcheck", health)
	}
}
