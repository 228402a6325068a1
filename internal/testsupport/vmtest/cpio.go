package vmtest

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
)

// cpioWriter writes an initramfs in the "newc" cpio format the kernel unpacks at boot
// (Documentation/driver-api/early-userspace/buffer-format.rst). Writing it here spares
// the harness a dependency on the cpio tool and lets it add device nodes without root.
type cpioWriter struct {
	w    *bufio.Writer
	off  int64
	ino  uint32
	dirs map[string]bool
	err  error
}

// File modes of cpio entries; the permission bits are or-ed in.
const (
	modeDir     = 0o040000
	modeRegular = 0o100000
	modeCharDev = 0o020000
)

func newCPIOWriter(w io.Writer) *cpioWriter {
	return &cpioWriter{w: bufio.NewWriterSize(w, 1<<16), dirs: map[string]bool{".": true, "/": true}}
}

// header writes one entry header and its name, padded to four bytes.
func (c *cpioWriter) header(name string, mode uint32, size int64, rdevMajor, rdevMinor uint32) {
	if c.err != nil {
		return
	}
	if size > 0xffffffff {
		c.err = fmt.Errorf("cpio entry %s: %d bytes is too large for newc", name, size)
		return
	}
	c.ino++
	nlink := uint32(1)
	if mode&modeDir == modeDir {
		nlink = 2
	}
	hdr := fmt.Sprintf("070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		c.ino, mode, 0, 0, nlink, 0, uint32(size), 0, 0, rdevMajor, rdevMinor, len(name)+1, 0)
	c.write([]byte(hdr + name + "\x00"))
	c.pad()
}

func (c *cpioWriter) write(p []byte) {
	if c.err != nil {
		return
	}
	n, err := c.w.Write(p)
	c.off += int64(n)
	c.err = err
}

func (c *cpioWriter) pad() {
	if rem := c.off % 4; rem != 0 {
		c.write(make([]byte, 4-rem))
	}
}

// mkdirAll adds name and its missing parents as directories (mode 0755).
func (c *cpioWriter) mkdirAll(name string) {
	name = strings.TrimPrefix(path.Clean(name), "/")
	if c.dirs[name] || name == "" {
		return
	}
	c.mkdirAll(path.Dir(name))
	c.dirs[name] = true
	c.header(name, modeDir|0o755, 0, 0, 0)
}

// bytes adds a regular file holding data.
func (c *cpioWriter) bytes(name string, perm uint32, data []byte) {
	name = strings.TrimPrefix(path.Clean(name), "/")
	c.mkdirAll(path.Dir(name))
	c.header(name, modeRegular|perm, int64(len(data)), 0, 0)
	c.write(data)
	c.pad()
}

// copyFile adds the host file src as name, keeping its permission bits.
func (c *cpioWriter) copyFile(name, src string) {
	if c.err != nil {
		return
	}
	f, err := os.Open(src)
	if err != nil {
		c.err = fmt.Errorf("adding %s to the initramfs: %w", src, err)
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		c.err = fmt.Errorf("adding %s to the initramfs: not a readable regular file", src)
		return
	}
	name = strings.TrimPrefix(path.Clean(name), "/")
	c.mkdirAll(path.Dir(name))
	c.header(name, modeRegular|uint32(st.Mode().Perm()), st.Size(), 0, 0)
	if c.err != nil {
		return
	}
	n, err := io.Copy(c.w, f)
	c.off += n
	if err == nil && n != st.Size() {
		err = fmt.Errorf("%s changed size while being copied", src)
	}
	if err != nil {
		c.err = fmt.Errorf("adding %s to the initramfs: %w", src, err)
		return
	}
	c.pad()
}

// charDev adds a character device node, such as /dev/console, which the kernel needs
// before devtmpfs is mounted to give /init its standard streams.
func (c *cpioWriter) charDev(name string, major, minor uint32) {
	name = strings.TrimPrefix(path.Clean(name), "/")
	c.mkdirAll(path.Dir(name))
	c.header(name, modeCharDev|0o600, 0, major, minor)
}

// Close writes the trailer and flushes; it returns the first error met.
func (c *cpioWriter) Close() error {
	c.header("TRAILER!!!", 0, 0, 0, 0)
	if c.err != nil {
		return c.err
	}
	return c.w.Flush()
}
