package template

import (
	"encoding/json"
	"testing"
)

func TestApplySet(t *testing.T) {
	tests := []struct {
		name    string
		base    string
		set     []string
		want    string
		wantErr bool
	}{
		{name: "scalars are typed", set: []string{"n=3", "b=true", "s=hello", "q=\"3\"", "f=1.5"},
			want: `{"b":true,"f":1.5,"n":3,"q":"3","s":"hello"}`},
		{name: "dotted keys nest", set: []string{"image.tag=1.4", "image.repo=web"},
			want: `{"image":{"repo":"web","tag":1.4}}`},
		{name: "set overrides values", base: "image: {tag: old, pull: Always}\nreplicas: 1\n", set: []string{"image.tag=new"},
			want: `{"image":{"pull":"Always","tag":"new"},"replicas":1}`},
		{name: "scalar replaced by mapping", base: "a: 1\n", set: []string{"a.b=2"}, want: `{"a":{"b":2}}`},
		{name: "empty value is an empty string", set: []string{"e="}, want: `{"e":""}`},
		{name: "value with equals sign", set: []string{"url=a=b"}, want: `{"url":"a=b"}`},
		{name: "missing equals", set: []string{"novalue"}, wantErr: true},
		{name: "empty segment", set: []string{"a..b=1"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			values, err := ParseValues([]byte(tt.base))
			if err != nil {
				t.Fatal(err)
			}
			err = ApplySet(values, tt.set)
			if tt.wantErr {
				if err == nil {
					t.Fatal("no error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			b, _ := json.Marshal(values)
			if string(b) != tt.want {
				t.Fatalf("got %s, want %s", b, tt.want)
			}
		})
	}
}

func TestParseValuesRejectsNonMapping(t *testing.T) {
	if _, err := ParseValues([]byte("- a\n")); err == nil {
		t.Fatal("a list was accepted")
	}
	if _, err := ParseValues([]byte(`{"a": {"b": [1, 2]}}`)); err != nil {
		t.Fatalf("JSON values: %v", err)
	}
}

func TestSchemaJSON(t *testing.T) {
	got, err := SchemaJSON([]byte("type: object\nproperties:\n  n: {type: integer}\n"))
	if err != nil || got != `{"properties":{"n":{"type":"integer"}},"type":"object"}` {
		t.Fatalf("%s %v", got, err)
	}
}
