package spaces

import "slices"

// State is where an embedding migration is in its life:
//
//	             cut-over (every searchable          window over, or complete, or
//	             document is in the target)          the source refused a document
//	building ───────────────────────────▶ active ──────────────────────────────▶ completed
//	   │  │                                  │
//	   │  └── cancel ──▶ cancelled           └── rollback ──▶ rolled_back
//	   │
//	   └── the target refused a document, or the build gave up ──▶ failed
//
// Building and active migrations are live: a tenant has at most one, and
// while it lives every new version of the tenant's documents is written to
// both of its spaces. Search uses the source (From) while building and
// after a cancel, rollback or failure, the target (To) once active or
// completed. When a migration leaves the live states, the space it left
// loses the tenant's points (the settle job).
type State string

// The states; a migration starts building.
const (
	Building   State = "building"
	Active     State = "active"
	Completed  State = "completed"
	Cancelled  State = "cancelled"
	RolledBack State = "rolled_back"
	Failed     State = "failed"
)

// transitions is the state machine: each state, and the states it may
// become. The others are final.
var transitions = map[State][]State{
	Building: {Active, Cancelled, Failed},
	Active:   {Completed, RolledBack},
}

// CanBecome reports whether the state machine allows s to become to.
func (s State) CanBecome(to State) bool { return slices.Contains(transitions[s], to) }

// Live reports whether a migration in state s is under way.
func (s State) Live() bool { return len(transitions[s]) > 0 }

// End is a way a person ends a migration.
type End string

// The ways to end a migration.
const (
	Cancel   End = "cancel"   // building: stop; the target's points go
	Rollback End = "rollback" // active: search goes back to the source
	Complete End = "complete" // active: the source's points go now
)

// ends says, for each way, the state it applies to and the state it leads
// to (a transition of the machine above).
var ends = map[End]struct{ from, to State }{
	Cancel:   {Building, Cancelled},
	Rollback: {Active, RolledBack},
	Complete: {Active, Completed},
}
