// Package serveopt carries what `herald serve` gives [herald.New] beyond
// herald.Config: the server settings that are the command's business (the
// live page, the version, its keys as it loaded them, push-stream tuning)
// and word of a hub that stops on its own. Being internal, it keeps those
// out of the public API while the command builds its hub the way any
// program does.
//
// [herald.New]: https://pkg.go.dev/github.com/heraldhub/herald#New
package serveopt

import "github.com/heraldhub/herald/internal/server"

// Options are the command's additions to a herald.Config.
type Options struct {
	// Server, if set, adjusts the server's configuration once herald.New
	// has made it from herald.Config.
	Server func(*server.Config)
	// Stopped, if set, is called when the hub stops before Close was
	// called (its journal failed), with the reason.
	Stopped func(error)
}

// New is herald.New with Options. Package herald sets it when it is
// initialized; its type is
//
//	func(herald.Config, serveopt.Options) (*herald.Hub, error)
//
// which this package cannot name, since herald imports it.
var New any
