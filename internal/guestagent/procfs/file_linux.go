//go:build linux

package procfs

import (
	"io"
	"os"
	"syscall"
	"unsafe"
)

// kernelFile reads a /proc or /sys file with plain system calls. An os.File
// would be offered to the runtime's poller on every open (a failing
// epoll_ctl for these files) and allocated, and the agent opens a dozen
// such files every second.
type kernelFile int

func openFile(path string) (kernelFile, error) {
	for {
		fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return -1, &os.PathError{Op: "open", Path: path, Err: err}
		}
		return kernelFile(fd), nil
	}
}

// Read reads like os.File.Read: io.EOF at the end, errors bare (readFile
// names the file).
func (f kernelFile) Read(p []byte) (int, error) {
	for {
		n, err := syscall.Read(int(f), p)
		switch {
		case err == syscall.EINTR:
			continue
		case err != nil:
			return 0, err
		case n == 0 && len(p) > 0:
			return 0, io.EOF
		}
		return n, nil
	}
}

func (f kernelFile) Close() error { return syscall.Close(int(f)) }

// countProcessDirs counts the numeric directories of dir (the processes in
// a /proc) by reading directory entries directly, without allocating a
// string per entry as os.File.Readdirnames would.
func countProcessDirs(dir string) (int, error) {
	f, err := openFile(dir)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var buf [8192]byte
	count := 0
	for {
		n, err := syscall.Getdents(int(f), buf[:])
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return 0, &os.PathError{Op: "readdirent", Path: dir, Err: err}
		}
		if n <= 0 {
			return count, nil
		}
		count += countNumericDirents(buf[:n])
	}
}

// countNumericDirents counts entries of a linux_dirent64 buffer whose names
// are all digits: d_ino u64, d_off i64, d_reclen u16, d_type u8, d_name.
func countNumericDirents(b []byte) int {
	count := 0
	for len(b) >= 19 {
		reclen := int(*(*uint16)(unsafe.Pointer(&b[16])))
		if reclen < 19 || reclen > len(b) {
			break
		}
		name := b[19:reclen]
		digits := 0
		for _, c := range name {
			if c == 0 {
				break
			}
			if c < '0' || c > '9' {
				digits = -1
				break
			}
			digits++
		}
		if digits > 0 {
			count++
		}
		b = b[reclen:]
	}
	return count
}
