package pgserver

import "syscall"

// setParentDeathSignal makes the kernel send the postmaster SIGINT (fast
// shutdown) when the thread that started it dies, so throw-away servers do
// not outlive a killed test binary.
func setParentDeathSignal(attr *syscall.SysProcAttr) {
	attr.Pdeathsig = syscall.SIGINT
}
