package localregion

import "syscall"

// sysProcAttr asks the kernel to kill versitygw when the process that started it dies, so a
// crashed test leaves no server behind.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
