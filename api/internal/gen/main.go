// Command gen writes api/openapi.json: it reads the upstream reference
// document (the wire contract the broker is compatible with) and applies the
// corrections recorded in this package so that the result describes what the
// brokkr broker actually serves.
//
// Usage (from the api directory, see the go:generate line in api.go):
//
//	go run ./internal/gen -ref ../../shared/spec/reference-openapi.json -out openapi.json -ops testdata/reference-operations.txt
//
// Besides the document it writes the reference's operation list ("METHOD
// /path operationId" per line, sorted by path then method), which the api
// package tests compare the document against.
package main

import (
	"flag"
	"fmt"
	"os"
)

func main() {
	ref := flag.String("ref", "../../shared/spec/reference-openapi.json", "path of the reference OpenAPI document")
	out := flag.String("out", "openapi.json", "path of the document to write")
	ops := flag.String("ops", "testdata/reference-operations.txt", "path of the reference operation list to write")
	flag.Parse()

	if err := run(*ref, *out, *ops); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run(refPath, outPath, opsPath string) error {
	ref, err := os.ReadFile(refPath)
	if err != nil {
		return fmt.Errorf("read reference: %w", err)
	}
	doc, err := build(ref)
	if err != nil {
		return err
	}
	list, err := operationList(ref)
	if err != nil {
		return err
	}
	if err := os.WriteFile(outPath, doc, 0o644); err != nil {
		return fmt.Errorf("write document: %w", err)
	}
	if err := os.WriteFile(opsPath, list, 0o644); err != nil {
		return fmt.Errorf("write operation list: %w", err)
	}
	return nil
}
