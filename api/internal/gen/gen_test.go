package main

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"strings"
	"testing"
)

// referencePath is the upstream document, kept beside the repository.
const referencePath = "../../../../shared/spec/reference-openapi.json"

func readReference(t *testing.T) []byte {
	t.Helper()
	ref, err := os.ReadFile(referencePath)
	if errors.Is(err, fs.ErrNotExist) {
		// CI always has shared/ beside the checkout; only a bare clone elsewhere lacks it.
		if os.Getenv("CI") != "" {
			t.Fatalf("reference document %s not available in CI", referencePath)
		}
		t.Skipf("reference document %s not available", referencePath)
	}
	if err != nil {
		t.Fatal(err)
	}
	return ref
}

func TestGeneratedFilesAreCurrent(t *testing.T) {
	ref := readReference(t)

	doc, err := build(ref)
	if err != nil {
		t.Fatal(err)
	}
	committed, err := os.ReadFile("../../openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(doc, committed) {
		t.Error("api/openapi.json is stale: run go generate in api/")
	}

	list, err := operationList(ref)
	if err != nil {
		t.Fatal(err)
	}
	committed, err = os.ReadFile("../../testdata/reference-operations.txt")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(list, committed) {
		t.Error("api/testdata/reference-operations.txt is stale: run go generate in api/")
	}
}

func TestBuildIsDeterministic(t *testing.T) {
	ref := readReference(t)
	first, err := build(ref)
	if err != nil {
		t.Fatal(err)
	}
	second, err := build(ref)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first, second) {
		t.Error("two builds of the same reference differ")
	}
}

func TestBuildRejectsUnexpectedReference(t *testing.T) {
	cases := map[string]string{
		"not JSON":      `{`,
		"no components": `{"paths": {}}`,
		"empty schemas": `{"components": {"schemas": {}}, "paths": {}}`,
		"unknown opId":  `{"components": {"schemas": {}}, "paths": {"/x": {"get": {"operationId": "x", "responses": {}}}}}`,
	}
	for name, ref := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := build([]byte(ref)); err == nil {
				t.Error("build accepted a reference the corrections do not fit")
			}
		})
	}
}

func TestBuildFailsWhenACorrectedSchemaIsMissing(t *testing.T) {
	ref := readReference(t)
	broken := bytes.Replace(ref, []byte(`"WorkOrderLog": {`), []byte(`"WorkOrderLogRenamed": {`), 1)
	if bytes.Equal(broken, ref) {
		t.Fatal("reference layout changed: WorkOrderLog not found")
	}
	_, err := build(broken)
	if err == nil || !strings.Contains(err.Error(), "WorkOrderLog") {
		t.Errorf("build error = %v, want one naming WorkOrderLog", err)
	}
}
