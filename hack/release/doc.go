// Package release holds the checks of the release pipeline: goreleaser.yaml at the
// repository root and the files under packaging/ that its packages ship. The tests run
// GoReleaser on the real configuration, look inside the archives and packages it makes,
// and install them.
package release
