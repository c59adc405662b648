package rules

import (
	"fmt"
	"strings"
	"sync"

	"cel.dev/cel-go/cel"
	celast "cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/interpreter"
)

const (
	// costLimit bounds what one evaluation of one rule may cost, in CEL's
	// cost units (about one per operation, more for string and list work).
	// A rule is evaluated on every request and what it costs depends on
	// the token it is shown (auth.token holds anything), so the bound is
	// enforced while evaluating rather than estimated at Parse, and a rule
	// over it is false. Real rules cost tens of units; 10,000 stops a
	// runaway rule within a millisecond of CPU.
	costLimit = 10_000
	// maxExprSize bounds the length of one expression, in characters.
	maxExprSize = 4096
)

// baseEnv declares what every rule sees: auth and now. Each level of the
// rules that binds a $variable extends it with that variable.
var baseEnv = sync.OnceValues(func() (*cel.Env, error) {
	return cel.NewEnv(
		// auth is null or a map, so it has no static type CEL could check
		// fields against: auth.token holds any claim.
		cel.Variable("auth", cel.DynType),
		cel.Variable("now", cel.IntType),
		// Claims decoded from JSON are doubles: let auth.token.level > 2
		// compare a double with an int, as JavaScript would.
		cel.CrossTypeNumericComparisons(true),
		cel.ParserExpressionSizeLimit(maxExprSize),
	)
})

// rule is one compiled .read or .write rule. A rule that is the literal true
// or false (as JSON, or as the expression "true") has no program.
type rule struct {
	prg   cel.Program
	value bool
}

// compileRule compiles the expression src of the rule at where (for errors,
// such as "/users/$uid/.read"), in env, which declares the path variables
// named in bound.
func compileRule(env *cel.Env, where, src string, bound []string) (*rule, error) {
	celSrc, err := translate(src, bound)
	if err != nil {
		return nil, &rulesError{where: where, msg: err.Error()}
	}
	ast, iss := env.Compile(celSrc)
	if iss.Err() != nil {
		return nil, &rulesError{where: where, msg: issueText(iss)}
	}
	if t := ast.OutputType(); !t.IsExactType(cel.BoolType) && !t.IsExactType(cel.DynType) {
		return nil, &rulesError{where: where, msg: fmt.Sprintf("the expression is a %s, not a bool", t)}
	}
	if e := ast.NativeRep().Expr(); e.Kind() == celast.LiteralKind {
		if b, ok := e.AsLiteral().(types.Bool); ok {
			return &rule{value: bool(b)}, nil
		}
	}
	prg, err := env.Program(ast, cel.CostLimit(costLimit), cel.EvalOptions(cel.OptOptimize))
	if err != nil {
		return nil, &rulesError{where: where, msg: err.Error()}
	}
	return &rule{prg: prg}, nil
}

// issueText turns CEL's compile errors into one line: each message with its
// position in the rule as written (translate keeps columns), without CEL's
// note on the (empty) container.
func issueText(iss *cel.Issues) string {
	var msgs []string
	for _, e := range iss.Errors() {
		msg := strings.TrimSuffix(e.Message, " (in container '')")
		if e.Location.Line() > 0 { // limits are reported at no position
			msg += fmt.Sprintf(" at %d:%d", e.Location.Line(), e.Location.Column()+1)
		}
		msgs = append(msgs, msg)
	}
	return strings.Join(msgs, "; ")
}

// allows evaluates r. An evaluation error, a result other than a bool, and
// going over the cost limit all count as false: a rule grants access only
// when it says so, as in Firebase, where a rule that reads a missing claim
// denies rather than fails the request.
func (r *rule) allows(act *activation) bool {
	if r.prg == nil {
		return r.value
	}
	out, _, err := r.prg.Eval(act)
	return err == nil && out == types.True
}

// activation gives a rule its variables. It is built once per decision and
// shared by the rules evaluated on the way down the path; the auth map is
// made only if a rule asks for it.
type activation struct {
	auth    *Auth
	authVal any
	now     types.Int
	vars    []binding
	buf     [4]binding // vars' storage for shallow paths
}

// binding is a path variable's CEL name (_uid) and the key it stands for.
type binding struct {
	name, key string
}

func (a *activation) ResolveName(name string) (any, bool) {
	switch name {
	case "auth":
		if a.authVal == nil {
			a.authVal = authValue(a.auth)
		}
		return a.authVal, true
	case "now":
		return a.now, true
	}
	for _, b := range a.vars {
		if b.name == name {
			return types.String(b.key), true
		}
	}
	return nil, false
}

func (a *activation) Parent() interpreter.Activation { return nil }

// authValue is the auth variable: null for an unauthenticated caller, else
// {"uid": ..., "token": {...claims}}, as in Firebase.
func authValue(a *Auth) any {
	if a == nil {
		return types.NullValue
	}
	token := a.Token
	if token == nil {
		token = map[string]any{}
	}
	return map[string]any{"uid": a.UID, "token": token}
}
