package agents

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// maxLabelLen is the longest label the broker stores (agent_labels.label is varchar(64)).
const maxLabelLen = 64

// parseLabelEdits reads the label editor's text: space-separated words, "+label" adds a
// label, "-label" removes one, a bare "label" adds it too. Duplicates collapse; a label both
// added and removed is an error, as are empty and over-long labels.
func parseLabelEdits(text string) (add, remove []string, err error) {
	for _, w := range strings.Fields(text) {
		label, removing := w, false
		switch w[0] {
		case '+':
			label = w[1:]
		case '-':
			label, removing = w[1:], true
		}
		switch {
		case label == "":
			return nil, nil, fmt.Errorf("empty label in %q", w)
		case len(label) > maxLabelLen:
			return nil, nil, fmt.Errorf("label %q is longer than %d bytes", label, maxLabelLen)
		}
		if removing {
			if !slices.Contains(remove, label) {
				remove = append(remove, label)
			}
		} else if !slices.Contains(add, label) {
			add = append(add, label)
		}
	}
	for _, l := range add {
		if slices.Contains(remove, l) {
			return nil, nil, fmt.Errorf("label %q is both added and removed", l)
		}
	}
	if len(add) == 0 && len(remove) == 0 {
		return nil, nil, errors.New("no labels given: +label adds, -label removes")
	}
	return add, remove, nil
}

// dropNoOps leaves out additions of labels the agent has and removals of labels it lacks,
// saying which were skipped.
func dropNoOps(have, add, remove []string) (adds, removes, skipped []string) {
	for _, l := range add {
		if slices.Contains(have, l) {
			skipped = append(skipped, "already has "+l)
			continue
		}
		adds = append(adds, l)
	}
	for _, l := range remove {
		if !slices.Contains(have, l) {
			skipped = append(skipped, "has no "+l)
			continue
		}
		removes = append(removes, l)
	}
	return adds, removes, skipped
}
