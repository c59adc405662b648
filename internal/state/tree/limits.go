package tree

// Limits bound what [Parse], [ParseUpdate] and [DecodeOp] accept. Zero
// fields take the defaults of [DefaultLimits].
type Limits struct {
	// MaxDepth is the deepest a written value may nest, in levels below the
	// write location: {"a": 1} is one level, and the key "a/b" of a PATCH
	// body two. Default 32, Firebase's limit.
	MaxDepth int
	// MaxBytes is the largest JSON body of one write. Default 16 MiB.
	MaxBytes int
}

// DefaultLimits are the limits Firebase applies to a REST write.
var DefaultLimits = Limits{MaxDepth: 32, MaxBytes: 16 << 20}

func (l Limits) withDefaults() Limits {
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultLimits.MaxDepth
	}
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultLimits.MaxBytes
	}
	return l
}
