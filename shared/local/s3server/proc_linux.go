package s3server

import "syscall"

// sysProcAttr asks the kernel to kill versitygw when the process that started it dies, so a
// crashed test leaves no server behind. (Linux ties this to the starting OS thread; Go keeps
// threads alive unless a goroutine exits while locked to one, which this package never does.)
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
