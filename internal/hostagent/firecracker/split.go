package firecracker

import "bytes"

// MaxLineBytes is the default longest metrics line a Splitter passes on.
// Firecracker's lines are about 6 KiB; a line a thousand times longer is not
// one of its lines, and bounding it bounds the memory each VM may cost.
const MaxLineBytes = 1 << 20

// Splitter cuts a byte stream into newline-terminated lines. It copes with
// what a pipe delivers: a line split across reads, several lines in one
// read, and lines too long to be real, which it skips up to their newline
// and counts. The zero value is not usable; call NewSplitter.
type Splitter struct {
	max      int
	buf      []byte // the partial line carried over from the previous Write
	skipping bool   // inside a line already known to be too long
	long     uint64 // lines skipped for being longer than max
}

// NewSplitter returns a Splitter that passes on lines of at most max bytes
// (newline excluded); max <= 0 means MaxLineBytes.
func NewSplitter(max int) *Splitter {
	if max <= 0 {
		max = MaxLineBytes
	}
	return &Splitter{max: max}
}

// Feed consumes p and calls emit for every line completed by it, without the
// newline (and without a trailing carriage return). The slice passed to emit
// is valid only during the call. Empty lines are not emitted.
func (s *Splitter) Feed(p []byte, emit func(line []byte)) {
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			s.keep(p)
			return
		}
		chunk := p[:i]
		p = p[i+1:]
		if s.skipping {
			s.skipping = false
			continue
		}
		if len(s.buf)+len(chunk) > s.max {
			s.buf = s.buf[:0]
			s.long++
			continue
		}
		line := chunk
		if len(s.buf) > 0 {
			s.buf = append(s.buf, chunk...)
			line = s.buf
		}
		line = bytes.TrimSuffix(line, []byte{'\r'})
		if len(line) > 0 {
			emit(line)
		}
		s.release()
	}
}

// release empties the buffer, returning a large one to the garbage
// collector: one odd long line should not pin a megabyte per VM.
func (s *Splitter) release() {
	if cap(s.buf) > 64<<10 {
		s.buf = nil
		return
	}
	s.buf = s.buf[:0]
}

// keep stores an unterminated tail, or starts skipping when the line has
// grown past the limit, so a writer that never sends a newline cannot make
// the buffer grow without bound.
func (s *Splitter) keep(p []byte) {
	if s.skipping {
		return
	}
	if len(s.buf)+len(p) > s.max {
		s.buf = s.buf[:0]
		s.skipping = true
		s.long++
		return
	}
	s.buf = append(s.buf, p...)
}

// Pending reports how many bytes of an unterminated line are buffered.
func (s *Splitter) Pending() int { return len(s.buf) }

// LongLines reports how many lines were skipped for being too long.
func (s *Splitter) LongLines() uint64 { return s.long }
