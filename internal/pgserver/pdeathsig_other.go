//go:build unix && !linux

package pgserver

import "syscall"

// setParentDeathSignal is a no-op where the kernel offers no parent-death
// signal; a throw-away server then lives on if its owner is killed.
func setParentDeathSignal(*syscall.SysProcAttr) {}
