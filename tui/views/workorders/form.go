package workorders

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"github.com/brokkr/brokkr/tui/ui"
)

// maxFileSize bounds the file an order is read from.
const maxFileSize = 4 << 20

// Steps of the create form.
const (
	stepFile = iota
	stepType
	stepTargets
	steps
)

// defaultWorkType is the form's proposed work type.
const defaultWorkType = "custom"

// form enqueues a work order: the file holding its YAML, its work type, and the agents it
// targets, asked one after the other.
type form struct {
	id      uint64
	step    int
	inputs  [steps]textinput.Model
	content string // the file's content, once read
	path    string // the file that was read
	busy    bool   // reading the file or creating the order
	err     string
}

var stepLabels = [steps]string{"YAML file", "Work type", "Target agents"}

func (m *Model) openForm() tea.Cmd {
	m.forms++
	f := &form{id: m.forms}
	placeholders := [steps]string{"path/to/order.yaml", defaultWorkType, "agent names or ids, comma-separated"}
	for i := range f.inputs {
		in := textinput.New()
		in.Prompt = "> "
		in.Placeholder = placeholders[i]
		st := textinput.DefaultStyles(true)
		st.Focused.Prompt = m.env.Styles.Key
		st.Focused.Placeholder, st.Blurred.Placeholder = m.env.Styles.Muted, m.env.Styles.Muted
		st.Focused.Text, st.Blurred.Text = lipgloss.NewStyle(), m.env.Styles.Muted
		st.Cursor.Blink = false
		in.SetStyles(st)
		f.inputs[i] = in
	}
	f.inputs[stepType].SetValue(defaultWorkType)
	m.form = f
	return f.inputs[stepFile].Focus()
}

// update feeds a non-key message to the focused input.
func (f *form) update(msg tea.Msg) tea.Cmd {
	var cmd tea.Cmd
	f.inputs[f.step], cmd = f.inputs[f.step].Update(msg)
	return cmd
}

func (m *Model) formKey(k tea.KeyPressMsg) tea.Cmd {
	f := m.form
	switch k.String() {
	case "esc":
		m.form = nil
		return ui.Flash("new work order cancelled", false)
	case "enter":
		if f.busy {
			return nil
		}
		return m.submitStep()
	case "shift+tab", "up":
		if f.busy || f.step == stepFile {
			return nil
		}
		f.inputs[f.step].Blur()
		f.step--
		f.err = ""
		return f.inputs[f.step].Focus()
	}
	if f.busy {
		return nil
	}
	f.err = ""
	return f.update(k)
}

// submitStep validates the current input and moves on: the file is read in a command, the
// order is created in one.
func (m *Model) submitStep() tea.Cmd {
	f := m.form
	value := strings.TrimSpace(f.inputs[f.step].Value())
	switch f.step {
	case stepFile:
		if value == "" {
			return f.fail("give the path of the file that holds the order's YAML")
		}
		f.busy, f.err = true, ""
		return readFile(f.id, value)
	case stepType:
		if value == "" {
			return f.fail("the work type is required (e.g. custom or build)")
		}
		return f.next()
	default:
		targets := splitTargets(value)
		if len(targets) == 0 {
			return f.fail("name at least one target agent (name or id)")
		}
		f.busy, f.err = true, ""
		return m.createOrder(f.id, strings.TrimSpace(f.inputs[stepType].Value()), f.content, targets)
	}
}

func (f *form) fail(text string) tea.Cmd {
	f.err = text
	return ui.Flash(text, true)
}

func (f *form) next() tea.Cmd {
	f.inputs[f.step].Blur()
	f.step++
	f.err = ""
	f.inputs[f.step].CursorEnd()
	return f.inputs[f.step].Focus()
}

// splitTargets reads a comma-separated list of agents, dropping blanks.
func splitTargets(s string) []string {
	var out []string
	for _, t := range strings.Split(s, ",") {
		if t = strings.TrimSpace(t); t != "" {
			out = append(out, t)
		}
	}
	return out
}

// readFile reads the order's YAML; a leading "~/" is the home directory.
func readFile(formID uint64, path string) tea.Cmd {
	return func() tea.Msg {
		msg := FileReadMsg{Form: formID, Path: path}
		msg.Content, msg.Err = readOrderFile(path)
		return msg
	}
}

func readOrderFile(path string) (string, error) {
	if rest, ok := strings.CutPrefix(path, "~/"); ok {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("expand %s: %w", path, err)
		}
		path = filepath.Join(home, rest)
	}
	info, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "", fmt.Errorf("no such file: %s", path)
	case err != nil:
		return "", fmt.Errorf("read %s: %w", path, err)
	case info.IsDir():
		return "", fmt.Errorf("%s is a directory", path)
	case info.Size() > maxFileSize:
		return "", fmt.Errorf("%s is larger than %d MiB", path, maxFileSize>>20)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	if strings.TrimSpace(string(raw)) == "" {
		return "", fmt.Errorf("%s is empty", path)
	}
	return string(raw), nil
}

func (m *Model) fileRead(msg FileReadMsg) tea.Cmd {
	f := m.form
	if f == nil || f.id != msg.Form || f.step != stepFile {
		return nil // the form was cancelled or moved on
	}
	f.busy = false
	if msg.Err != nil {
		return f.fail(msg.Err.Error())
	}
	f.content, f.path = msg.Content, msg.Path
	return f.next()
}

func (m *Model) created(msg CreatedMsg) tea.Cmd {
	st := ui.Status(msg.At, ui.Unreachable(msg.Err))
	f := m.form
	current := f != nil && f.id == msg.Form
	if msg.Err != nil {
		if !current {
			return tea.Batch(st, ui.Flash(ui.ErrText(msg.Err), true))
		}
		f.busy = false
		return tea.Batch(st, f.fail(ui.ErrText(msg.Err)))
	}
	if current {
		m.form = nil
	}
	text := fmt.Sprintf("work order %s (%s) created for %s", ui.ShortID(msg.Order.ID), msg.Order.WorkType, strings.Join(msg.Targets, ", "))
	return tea.Batch(st, ui.Flash(text, false), m.loadList())
}

// lineCount returns the content's line count, for the form's note.
func lineCount(s string) int {
	n := strings.Count(s, "\n")
	if !strings.HasSuffix(s, "\n") {
		n++
	}
	return n
}
