package firecracker

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
)

// runFile tails a regular metrics file. Firecracker opens it without
// O_APPEND and without O_TRUNC, so a VM started again on the same path
// writes over an old run's lines from offset 0 and leaves the rest of them
// behind its own. The reader keeps the offset after the last line it took
// and takes a line only when it is of this run: not older than the run's
// start (NotBefore) nor than the newest line taken. At a line of an old run
// it stops and reads from that offset again at the next poll, where the
// VM's next line will be written — unless the file has grown past where it
// stopped, which only the VM's own writes beyond the old tail do: then the
// line is the VM's, its clock stepped back. Undecodable lines are counted
// once a line of this run follows them; before an old line they are most
// likely what is left of one.
func (r *MetricsReader) runFile() {
	t := fileTail{newest: r.notBeforeMs, stoppedAt: -1}
	br := bufio.NewReaderSize(nil, 64<<10)
	for {
		fi, err := r.f.Stat()
		if errors.Is(err, os.ErrClosed) {
			return
		}
		if err == nil {
			err = t.poll(r, br, fi.Size())
		}
		if errors.Is(err, os.ErrClosed) {
			return
		}
		r.setErr(err)
		if !r.wait() {
			return
		}
	}
}

// fileTail is where a file's reader stands.
type fileTail struct {
	off       int64 // after the last line taken
	newest    int64 // utc_timestamp_ms of the newest line taken, or the run's start
	stoppedAt int64 // offset of the old line the last poll stopped at; -1 for none
	sizeThen  int64 // the file's size then
}

// poll reads the whole lines between t.off and size.
func (t *fileTail) poll(r *MetricsReader, br *bufio.Reader, size int64) error {
	if size < t.off { // truncated: start over
		t.off, t.stoppedAt = 0, -1
	}
	grown := t.stoppedAt == t.off && size > t.sizeThen
	t.stoppedAt = -1
	br.Reset(io.NewSectionReader(r.f, t.off, size-t.off))
	pos := t.off
	var bad, long uint64 // undecodable lines since t.off
	for {
		b, n, tooLong, err := nextLine(br)
		if errors.Is(err, io.EOF) {
			return nil // an unfinished line waits for its end
		}
		if err != nil {
			return err
		}
		pos += n
		if tooLong {
			bad, long = bad+1, long+1
			continue
		}
		line, derr := DecodeLine(b)
		if derr != nil {
			bad++
			tail, ok := Recover(b)
			if !ok {
				continue
			}
			if line, derr = DecodeLine(tail); derr != nil {
				continue
			}
		}
		if line.TimestampMs < t.newest && !grown {
			if derr == nil {
				t.stoppedAt, t.sizeThen = t.off, size
				return nil
			}
			continue // a recovered old line: junk as well
		}
		grown = false
		t.off, t.newest = pos, line.TimestampMs
		r.take(line, bad, long)
		bad, long = 0, 0
	}
}

// nextLine returns the next line without its newline, the bytes it took
// (newline included), and whether it was over MaxLineBytes (then skipped
// to its end); io.EOF when no whole line is left.
func nextLine(br *bufio.Reader) (line []byte, n int64, tooLong bool, err error) {
	var buf []byte
	for {
		chunk, err := br.ReadSlice('\n')
		n += int64(len(chunk))
		if !tooLong {
			if len(buf)+len(chunk) > MaxLineBytes+1 {
				tooLong, buf = true, nil
			} else if err == nil && buf == nil {
				return bytes.TrimSuffix(chunk, []byte("\n")), n, false, nil
			} else {
				buf = append(buf, chunk...)
			}
		}
		switch {
		case err == nil && tooLong:
			return nil, n, true, nil
		case err == nil:
			return bytes.TrimSuffix(buf, []byte("\n")), n, false, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		default:
			return nil, n, tooLong, err
		}
	}
}
