// Package procfs reads the Linux /proc and /sys files the guest agent samples
// and parses them into plain values. Every reader is a method on FS, whose
// roots are values so tests point the same code at fixture trees; the parsers
// behind them are strict: a truncated or garbled file yields an error naming
// the file and line, never a panic or a made-up number.
//
// The package is linked into the size-constrained guest agent, so it uses
// only small standard packages (no fmt, reflect, regexp or encoding).
package procfs

import (
	"errors"
	"io"
	"os"
	"strconv"
)

// Default roots of a running Linux system.
const (
	DefaultProcRoot = "/proc"
	DefaultSysRoot  = "/sys"
)

// maxFileBytes bounds every read: the files read here are a few KiB even on
// large machines, so anything bigger is not the file we expect.
const maxFileBytes = 1 << 20

// FS reads kernel files below a proc root and a sys root. The zero value is
// not useful; build one with NewFS. An FS holds no state besides the roots and
// is safe for concurrent use.
type FS struct {
	proc string
	sys  string
}

// NewFS returns an FS rooted at procRoot and sysRoot, normally "/proc" and
// "/sys". An empty root means the default one.
func NewFS(procRoot, sysRoot string) FS {
	if procRoot == "" {
		procRoot = DefaultProcRoot
	}
	if sysRoot == "" {
		sysRoot = DefaultSysRoot
	}
	return FS{proc: procRoot, sys: sysRoot}
}

// ProcRoot returns the proc root the FS reads from.
func (fs FS) ProcRoot() string { return fs.proc }

// SysRoot returns the sys root the FS reads from.
func (fs FS) SysRoot() string { return fs.sys }

func (fs FS) procPath(name string) string { return fs.proc + "/" + name }

func (fs FS) sysPath(name string) string { return fs.sys + "/" + name }

// ParseError describes malformed content in a kernel file. Readers return it
// wrapped in an *os.PathError whose Op is "parse" and whose Path names the
// file, so the message reads "parse /proc/stat: line 3: ...".
type ParseError struct {
	Line int    // 1-based line number; 0 when no single line is at fault
	Msg  string // what was wrong, lower case
}

func (e *ParseError) Error() string {
	if e.Line <= 0 {
		return e.Msg
	}
	return "line " + strconv.Itoa(e.Line) + ": " + e.Msg
}

func lineErr(line int, msg string) error { return &ParseError{Line: line, Msg: msg} }

// parseErr attaches the file name to an error returned by a parser.
func parseErr(path string, err error) error {
	return &os.PathError{Op: "parse", Path: path, Err: err}
}

var errTooLarge = errors.New("file larger than " + strconv.Itoa(maxFileBytes) + " bytes")

// readFile reads a whole kernel file, refusing files over maxFileBytes.
// Files in /proc report a size of 0, so the first read goes to a stack
// buffer that holds most of them and the result is copied out at its exact
// size; larger files continue in a growing heap buffer.
func readFile(path string) ([]byte, error) {
	f, err := openFile(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	buf, err := readAll(f, path)
	if err != nil {
		var pe *os.PathError
		if !errors.As(err, &pe) {
			err = &os.PathError{Op: "read", Path: path, Err: err}
		}
	}
	return buf, err
}

// readAll reads f to its end, refusing more than maxFileBytes.
func readAll(f io.Reader, path string) ([]byte, error) {
	var small [2048]byte
	n, err := readFull(f, small[:])
	if err != nil {
		return nil, err
	}
	if n < len(small) {
		return append([]byte(nil), small[:n]...), nil
	}
	buf := append(make([]byte, 0, 4*len(small)), small[:]...)
	for {
		if len(buf) == cap(buf) {
			if len(buf) > maxFileBytes {
				return nil, &os.PathError{Op: "read", Path: path, Err: errTooLarge}
			}
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := readFull(f, buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err != nil {
			return nil, err
		}
		if len(buf) < cap(buf) {
			break // end of file
		}
	}
	if len(buf) > maxFileBytes {
		return nil, &os.PathError{Op: "read", Path: path, Err: errTooLarge}
	}
	return buf, nil
}

// readFull reads until p is full or the file ends, which is not an error.
func readFull(f io.Reader, p []byte) (int, error) {
	n := 0
	for n < len(p) {
		m, err := f.Read(p[n:])
		n += m
		if err == io.EOF {
			break
		}
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// readAndParse reads path and hands its content to parse, naming the file in
// any parse error.
func readAndParse[T any](path string, parse func([]byte) (T, error)) (T, error) {
	data, err := readFile(path)
	if err != nil {
		var zero T
		return zero, err
	}
	v, err := parse(data)
	if err != nil {
		var zero T
		return zero, parseErr(path, err)
	}
	return v, nil
}
