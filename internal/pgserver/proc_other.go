//go:build !unix

package pgserver

import (
	"errors"
	"io/fs"
	"os"
	"syscall"
)

// errUnsupported is returned by Start on systems without Unix processes.
var errUnsupported = errors.New("running a local PostgreSQL server is only supported on Unix systems; configure database.url instead")

type identity struct{ name string }

func serverIdentity() (*identity, error)                   { return nil, errUnsupported }
func (id *identity) String() string                        { return "the current user" }
func (id *identity) sysProcAttr(bool) *syscall.SysProcAttr { return nil }
func (id *identity) chown(string) error                    { return nil }
func (id *identity) owns(fs.FileInfo) bool                 { return true }
func (id *identity) canSearch(fs.FileInfo) bool            { return true }
func processAlive(int) bool                                { return false }

var (
	sigFastShutdown      os.Signal = os.Interrupt
	sigImmediateShutdown os.Signal = os.Kill
)
