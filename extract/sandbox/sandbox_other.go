//go:build unix && !linux

package sandbox

import (
	"errors"
	"syscall"
	"time"
)

// On Unix systems other than Linux (developers' machines), children get
// their own process group and the memory limit, but no death signal, no
// per-document CPU watch (only the clock) and no peak-memory figure.

func sandboxProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

func processCPU(int) (time.Duration, error) { return 0, errors.ErrUnsupported }

func resetPeakRSS() {}

func peakRSS() int64 { return 0 }
