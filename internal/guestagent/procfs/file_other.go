//go:build !linux

package procfs

import (
	"errors"
	"io"
	"os"
)

func openFile(path string) (*os.File, error) { return os.Open(path) }

func countProcessDirs(dir string) (int, error) {
	d, err := os.Open(dir)
	if err != nil {
		return 0, err
	}
	defer d.Close()
	count := 0
	for {
		names, err := d.Readdirnames(512)
		for _, name := range names {
			if _, err := parseUint(name); err == nil {
				count++
			}
		}
		if errors.Is(err, io.EOF) {
			return count, nil
		}
		if err != nil {
			return 0, err
		}
	}
}
