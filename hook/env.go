package hook

import (
	"io"

	"github.com/crhook/crhook/internal/config"
	"github.com/crhook/crhook/spec"
)

// Limits on what a stage reads from stdin or a bundle. A real spec is
// tens of KB; several MB covers thousands of mounts or env entries.
const (
	MaxSpecSize  = 64 << 20
	MaxStateSize = 4 << 20
)

// Env is what every stage gets from main.
type Env struct {
	Config config.Config
	Stdin  io.Reader
	Stdout io.Writer
	// Self is crhook's absolute path, for the hooks patch registers.
	Self string
}

// Outcome is what a stage did, for its one log line.
type Outcome struct {
	Container string
	OptedIn   bool
	Profile   string
	Changes   []string
	// Notes say what the log must carry beyond the changes (an admin's
	// exception that applied).
	Notes []string
	// Warning is set when the stage passed but something deserves a look.
	Warning string
}

// granted records the request the stage acts on.
func (o *Outcome) granted(req spec.Request) {
	o.OptedIn, o.Profile = req.OptedIn, string(req.Profile)
}
