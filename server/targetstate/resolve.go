package targetstate

import (
	"cmp"
	"slices"
	"time"
	"unique"

	"github.com/google/uuid"

	"github.com/brokkr/brokkr/internal/window"
)

// Which object of a stack an agent receives. Without rollouts and apply windows it is the
// stack's latest live object, for every agent. A rollout serves its object only to the
// agents it has released; the others keep receiving what they received before. An apply
// window that holds an agent keeps serving it the object it last reported applying.

// Object is a deployment object as target state serves it: its JSON, id and sequence id,
// and whether it is urgent (passes through apply windows).
type Object struct {
	JSON   unique.Handle[string]
	ID     uuid.UUID
	Seq    int64
	Urgent bool
}

// Step is one object a stack may serve: to every agent when Released is nil, else to the
// agents of the set (those its rollout has released).
type Step struct {
	Object
	Rollout    uuid.UUID  // the object's rollout, uuid.Nil without one
	NextWaveAt *time.Time // when its rollout's next wave unlocks, if a timed pause runs
	Released   map[uuid.UUID]struct{}
}

// View is what a stack serves: its live objects newest first, down to the newest one that
// is served to every agent. An empty view is a stack without a live object.
type View []Step

// Resolve returns the index of the step the agent receives, -1 for none.
func (v View) Resolve(agent uuid.UUID) int {
	for i, s := range v {
		if s.Released == nil {
			return i
		}
		if _, ok := s.Released[agent]; ok {
			return i
		}
	}
	return -1
}

// Facts are what apply windows need to know of an agent: its labels and annotations, and
// per stack the object it last reported applying.
type Facts struct {
	Labels      []string
	Annotations map[string]string
	Has         map[uuid.UUID]Object
}

// Hold is a stack's newest object not served to an agent, and why.
type Hold struct {
	Stack   uuid.UUID
	Object  uuid.UUID  // held back
	Serving *uuid.UUID // served instead (nil: nothing of the stack)
	Reason  string     // "rollout" or "window"
	Rollout uuid.UUID  // reason rollout
	Window  *window.Window
	Until   time.Time // zero: unknown
}

// Composition is what an agent receives: the objects (newest sequence first), the objects
// held back, and until when it stays true without a change in the database (zero: until one).
type Composition struct {
	Objects []Object
	Holds   []Hold
	Expires time.Time
}

// Windows are the apply windows with the memo of their holds.
type Windows struct {
	Set  window.Set
	Memo *window.Memo
}

// Compose resolves what an agent associated with stacks receives at now. facts may be nil
// when there are no windows.
func Compose(agent uuid.UUID, stacks []uuid.UUID, views map[uuid.UUID]View, windows Windows, facts *Facts, now time.Time) Composition {
	var out Composition
	if len(windows.Set) > 0 {
		out.Expires = windows.Set.NextChange(now)
	}
	for _, s := range stacks {
		v := views[s]
		if len(v) == 0 {
			continue
		}
		i := v.Resolve(agent)
		var served *Object
		if i >= 0 {
			served = &v[i].Object
		}
		var hold *Hold
		if i != 0 {
			hold = &Hold{Stack: s, Object: v[0].ID, Reason: "rollout", Rollout: v[0].Rollout}
			if v[0].NextWaveAt != nil {
				hold.Until = *v[0].NextWaveAt
			}
		}
		if served != nil && !served.Urgent && facts != nil && len(windows.Set) > 0 {
			if has, ok := facts.Has[s]; !ok || has.ID != served.ID {
				if held, by, until := windows.Set.HoldWith(windows.Memo, now, facts.Labels, facts.Annotations, s); held {
					if hold == nil {
						hold = &Hold{Stack: s, Object: served.ID, Reason: "window", Window: by, Until: until}
					}
					served = nil
					if ok {
						served = &has
					}
				}
			}
		}
		if served != nil {
			out.Objects = append(out.Objects, *served)
		}
		if hold != nil {
			if served != nil {
				id := served.ID
				hold.Serving = &id
			}
			out.Holds = append(out.Holds, *hold)
		}
	}
	slices.SortFunc(out.Objects, func(x, y Object) int { return cmp.Compare(y.Seq, x.Seq) })
	slices.SortFunc(out.Holds, func(x, y Hold) int { return compareIDs(x.Stack, y.Stack) })
	return out
}
