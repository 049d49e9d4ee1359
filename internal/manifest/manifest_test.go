package manifest

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

const configMap = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n"

// names lists "kind/name" of objects.
func names(objs []map[string]any) string {
	var out []string
	for _, o := range objs {
		out = append(out, str(o, "kind")+"/"+str(o, "metadata", "name"))
	}
	return strings.Join(out, ",")
}

func TestParse(t *testing.T) {
	cases := []struct {
		name, in string
		want     string // kind/name of the objects, comma-separated
		err      string // a part of the error; empty when the manifest parses
	}{
		{name: "empty", in: ""},
		{name: "blank", in: " \n  \n"},
		{name: "a line of only a tab is not YAML", in: " \n\t\n", err: "document 1: invalid YAML"},
		{name: "only separators", in: "---\n---\n"},
		{name: "comments, nulls and empty mappings", in: "# c\n---\n~\n---\nnull\n---\n{}\n---\n" + configMap + "--- # trailing comment\n", want: "ConfigMap/a"},
		{name: "CRLF line ends", in: "apiVersion: v1\r\nkind: ConfigMap\r\nmetadata:\r\n  name: a\r\n", want: "ConfigMap/a"},
		{name: "several objects in order", in: configMap + "---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: shop}\n", want: "ConfigMap/a,Deployment/web"},
		{name: "list items in place", in: configMap + "---\napiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Secret, metadata: {name: s}}\n- {apiVersion: v1, kind: Service, metadata: {name: svc}}\n", want: "ConfigMap/a,Secret/s,Service/svc"},
		{name: "any document with an items array is a list", in: "kind: ConfigMapList\nitems: []\n"},
		{name: "JSON", in: `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"}}`, want: "ConfigMap/a"},
		{name: "JSON stream", in: `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"}}` + "\n" + `{"apiVersion":"v1","kind":"Secret","metadata":{"name":"b"}}`, want: "ConfigMap/a,Secret/b"},
		{name: "JSON then YAML", in: `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"}}` + "\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: b}\n", want: "ConfigMap/a,Secret/b"},
		{name: "a last line of 4096 bytes without a newline", in: configMap + "---\napiVersion: v1\nkind: Secret\n" + "metadata: {name: s, x: " + strings.Repeat("x", 4096-len("metadata: {name: s, x: }")) + "}", want: "ConfigMap/a,Secret/s"},
		{name: "a last scalar of 8192 bytes without a newline", in: configMap + "---\n" + strings.Repeat("x", 8192), err: "document 2: not a mapping but a scalar"},
		{name: "duplicate keys, the last wins", in: "apiVersion: v1\nkind: Secret\nkind: ConfigMap\nmetadata: {name: a}\n", want: "ConfigMap/a"},

		{name: "unclosed flow", in: "apiVersion: v1\nkind: [", err: "document 1: invalid YAML"},
		{name: "second document broken", in: configMap + "---\n: : :\n  - [\n", err: "document 2: invalid YAML"},
		{name: "tab indentation", in: "a:\n\tb: 1\n", err: "document 1: invalid YAML"},
		{name: "content on the separator line", in: "--- {apiVersion: v1, kind: ConfigMap, metadata: {name: a}}\n", err: "document 1: invalid YAML"},
		{name: "NUL byte", in: "apiVersion: v1\x00\nkind: ConfigMap\nmetadata: {name: a}\n", err: "document 1: invalid YAML"},
		{name: "NUL in a quoted string", in: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: \"a\x00\"}\n", err: "invalid YAML"},
		{name: "scalar document", in: "just text\n", err: `document 1: not a mapping but a scalar "just text"`},
		{name: "number document", in: configMap + "---\n42\n", err: `document 2: not a mapping but a scalar "42"`},
		{name: "long scalar is cut", in: strings.Repeat("x", 100), err: `scalar "` + strings.Repeat("x", 40) + `…"`},
		{name: "sequence document", in: "- a\n- b\n", err: "document 1: not a mapping but a sequence"},
		{name: "JSON array", in: configMap + "---\n[1, 2]\n", err: "document 2: not a mapping but a sequence"},
		{name: "missing apiVersion", in: "kind: ConfigMap\nmetadata: {name: a}\n", err: "document 1: apiVersion is required"},
		{name: "apiVersion not a string", in: "apiVersion: 1\nkind: ConfigMap\nmetadata: {name: a}\n", err: "document 1: apiVersion is required"},
		{name: "missing kind", in: "apiVersion: v1\nmetadata: {name: a}\n", err: "document 1: kind is required"},
		{name: "missing name", in: configMap + "---\napiVersion: v1\nkind: Secret\n", err: "document 2: Secret: metadata.name is required"},
		{name: "metadata not a mapping", in: "apiVersion: v1\nkind: Secret\nmetadata: a\n", err: "metadata.name is required"},
		{name: "name not a string", in: "apiVersion: v1\nkind: Secret\nmetadata: {name: [a]}\n", err: "metadata.name is required"},
		{name: "generateName", in: "apiVersion: v1\nkind: Pod\nmetadata: {generateName: web-}\n", err: "Pod: generateName cannot be applied"},
		{name: "bad apiVersion", in: "apiVersion: a/b/c\nkind: X\nmetadata: {name: a}\n", err: `document 1: apiVersion "a/b/c"`},
		{name: "list item without a name", in: "apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Secret, metadata: {name: s}}\n- {apiVersion: v1, kind: Secret}\n", err: "document 1, item 2: Secret: metadata.name is required"},
		{name: "list item not an object", in: "kind: List\nitems: [1]\n", err: "document 1, item 1: not an object"},
		{name: "list of lists", in: "kind: List\nitems:\n- {apiVersion: v1, kind: List, items: []}\n", err: "document 1, item 1: List: metadata.name is required"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			objs, err := Parse(c.in)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("error %v, want it to contain %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := names(objs); got != c.want {
				t.Fatalf("objects %q, want %q", got, c.want)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	cases := []struct {
		name, in    string
		err         error  // the error wrapped, when it is one of the package's
		errText     string // a part of the error
		documentsOK bool   // ValidateDocuments accepts it
	}{
		{name: "one object", in: configMap, documentsOK: true},
		{name: "empty list", in: "apiVersion: v1\nkind: List\nitems: []\n", documentsOK: true},
		{name: "empty", in: "", err: ErrBlank},
		{name: "blank", in: " \n\t\r\n", err: ErrBlank},
		{name: "only separators", in: "---\n---\n", err: ErrNoObject},
		{name: "only comments", in: "# nothing\n---\n# here\n", err: ErrNoObject},
		{name: "only null", in: "~\n", err: ErrNoObject},
		{name: "only an empty mapping", in: "{}\n", err: ErrNoObject},
		{name: "not applicable", in: "kind: ConfigMap\n", errText: "apiVersion is required", documentsOK: true},
		{name: "not YAML", in: "a: [", errText: "invalid YAML"},
		{name: "not a mapping", in: "- a\n", errText: "not a mapping"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := Validate(c.in)
			switch {
			case c.err == nil && c.errText == "":
				if err != nil {
					t.Fatal(err)
				}
			case c.err != nil && !errors.Is(err, c.err):
				t.Fatalf("error %v, want %v", err, c.err)
			case c.errText != "" && (err == nil || !strings.Contains(err.Error(), c.errText)):
				t.Fatalf("error %v, want it to contain %q", err, c.errText)
			}
			if err := ValidateDocuments(c.in); (err == nil) != c.documentsOK {
				t.Fatalf("ValidateDocuments: %v, want ok %v", err, c.documentsOK)
			}
		})
	}
}

// TestHostileInput checks that input built to exhaust a parser is refused (or read) quickly.
func TestHostileInput(t *testing.T) {
	var laughs strings.Builder
	laughs.WriteString("a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n")
	for i := 'b'; i <= 'j'; i++ {
		fmt.Fprintf(&laughs, "%c: &%c [*%c,*%c,*%c,*%c,*%c,*%c,*%c,*%c,*%c]\n", i, i, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1)
	}
	many := strings.Repeat("---\n"+configMap, 20000) // about 1 MiB, 20,000 objects
	cases := []struct {
		name, in string
		ok       bool
	}{
		{name: "deep flow sequence", in: strings.Repeat("[", 1<<20)},
		{name: "deep flow mapping", in: "a: " + strings.Repeat("{a: ", 100000) + strings.Repeat("}", 100000)},
		{name: "deep JSON", in: strings.Repeat(`{"a":`, 200000) + "1" + strings.Repeat("}", 200000)},
		{name: "deep block nesting", in: func() string {
			var b strings.Builder
			for i := range 2000 {
				b.WriteString(strings.Repeat(" ", i) + "a:\n")
			}
			return b.String()
		}()},
		{name: "billion laughs", in: laughs.String()},
		{name: "huge line", in: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {k: " + strings.Repeat("v", 2<<20) + "}\n", ok: true},
		{name: "many documents", in: many, ok: true},
		{name: "many empty documents", in: strings.Repeat("---\n", 1<<18) + configMap, ok: true},
		{name: "NUL bytes", in: strings.Repeat("\x00", 1<<16)},
		{name: "invalid UTF-8", in: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: \xff\xfe}\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			start := time.Now()
			err := Validate(c.in)
			if took := time.Since(start); took > 10*time.Second {
				t.Errorf("took %s", took)
			}
			if (err == nil) != c.ok {
				t.Fatalf("error %v, want ok %v", err, c.ok)
			}
		})
	}
}

func TestBundle(t *testing.T) {
	cases := []struct {
		name  string
		files []string
		want  string
	}{
		{name: "one file ends with one newline", files: []string{configMap + "\n\n \t\n"}, want: configMap},
		{name: "files are joined with a separator", files: []string{"a: 1\n", "b: 2"}, want: "a: 1\n---\nb: 2\n"},
		{name: "leading whitespace and inner separators are kept", files: []string{"\n# c\na: 1\n---\nb: 2\n"}, want: "\n# c\na: 1\n---\nb: 2\n"},
		{name: "an empty file is an empty document", files: []string{"a: 1", "", "b: 2"}, want: "a: 1\n---\n\n---\nb: 2\n"},
		{name: "no files", want: "\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := Bundle(c.files...); got != c.want {
				t.Fatalf("bundle %q, want %q", got, c.want)
			}
		})
	}
}

func TestChecksum(t *testing.T) {
	for in, want := range map[string]string{
		"":    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
		"abc": "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
	} {
		if got := Checksum(in); got != want {
			t.Errorf("Checksum(%q) = %s, want %s", in, got, want)
		}
	}
	if Checksum("a: 1\n") == Checksum("a: 1\r\n") || Checksum("a: 1\n") == Checksum("a: 1") {
		t.Error("the checksum normalizes its input")
	}
}

// FuzzValidate feeds arbitrary manifests to Validate: it never panics, and what it accepts
// parses into objects that Check accepts.
func FuzzValidate(f *testing.F) {
	for _, s := range []string{
		"", "---", configMap, "apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: ConfigMap, metadata: {name: b}}\n",
		`{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"n"}}`, "a: [", "- 1\n", "null\n---\n~\n",
		"&a [*a, *a]", strings.Repeat("[", 200), "--- x\n", "{}\n", "\x00",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, content string) {
		if Validate(content) != nil {
			return
		}
		objs, err := Parse(content)
		if err != nil {
			t.Fatalf("Validate accepts %q, Parse refuses it: %v", content, err)
		}
		for _, o := range objs {
			if err := Check(o); err != nil {
				t.Fatalf("Parse(%q) returned an object Check refuses: %v", content, err)
			}
		}
	})
}
