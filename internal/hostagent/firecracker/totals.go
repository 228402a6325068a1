package firecracker

// MinRateWindowMs is the shortest span of utc_timestamp_ms a rate is
// computed over. Firecracker's own 60 s flush can land a few milliseconds
// after a requested one; dividing that tiny delta by a tiny interval would
// give a wild rate, so such a line is folded into the next window instead.
const MinRateWindowMs = 250

// NetTotals are the sums of a net section's deltas since the reader
// started, with rates over the latest window (guest's view: rx into the
// guest, tx out of it).
type NetTotals struct {
	NetCounters
	RxBytesPerSec float64
	TxBytesPerSec float64
}

// BlockTotals are the sums of a block section's deltas since the reader
// started, with rates over the latest window.
type BlockTotals struct {
	BlockCounters
	ReadBytesPerSec  float64
	WriteBytesPerSec float64
}

// Totals is what the lines read so far add up to. A Totals returned by
// Accumulator.Snapshot is a copy the caller may keep.
type Totals struct {
	Lines         uint64 // lines decoded, including those recovered from behind junk
	BadLines      uint64 // lines or fragments that could not be decoded, too-long lines included
	LongLines     uint64 // lines skipped for exceeding the length limit
	MissedMetrics uint64 // sum of logger.missed_metrics_count: lines Firecracker failed to write
	LastLineMs    int64  // utc_timestamp_ms of the newest line; 0 before the first
	RateWindowMs  int64  // span the rates cover; 0 until two lines far enough apart

	Net      map[string]NetTotals // by iface_id
	NetAll   *NetTotals           // nil until a line carried a net section
	Block    map[string]BlockTotals
	BlockAll *BlockTotals

	VMMTotals // the VMM's own groups

	// Properties are those of the newest line (Line.Properties); shared,
	// never changed in place.
	Properties map[string]string
}

// Accumulator sums decoded lines into Totals. It is not safe for concurrent
// use; the FIFO reader guards it.
type Accumulator struct {
	t Totals

	// The counters as they stood at the start of the current rate window.
	baseMs       int64
	hasBase      bool
	baseNet      map[string]NetCounters
	baseNetAll   NetCounters
	baseBlock    map[string]BlockCounters
	baseBlockAll BlockCounters
}

// NewAccumulator returns an empty Accumulator.
func NewAccumulator() *Accumulator {
	return &Accumulator{t: Totals{Net: map[string]NetTotals{}, Block: map[string]BlockTotals{}}}
}

// AddBad counts n undecodable lines, of which long were too long to read.
func (a *Accumulator) AddBad(n, long uint64) {
	a.t.BadLines += n
	a.t.LongLines += long
}

// Add sums one line's deltas. When the line has per-device sections but no
// aggregate, the aggregate is their sum, so NetAll and BlockAll stay
// consistent with the devices across Firecracker versions.
func (a *Accumulator) Add(l Line) {
	a.t.Lines++
	a.t.LastLineMs = l.TimestampMs
	a.t.Properties = l.Properties
	if l.Logger != nil {
		a.t.MissedMetrics += l.Logger.MissedMetrics
	}
	a.addNet(l)
	a.addBlock(l)
	a.addVMM(l)
	a.updateRates(l.TimestampMs)
}

func (a *Accumulator) addNet(l Line) {
	all := l.NetAll
	if all == nil && len(l.Net) > 0 {
		all = new(NetCounters)
		for _, c := range l.Net {
			all.add(c)
		}
	}
	for id, c := range l.Net {
		t := a.t.Net[id]
		t.add(c)
		a.t.Net[id] = t
	}
	if all != nil {
		if a.t.NetAll == nil {
			a.t.NetAll = new(NetTotals)
		}
		a.t.NetAll.add(*all)
	}
}

func (a *Accumulator) addBlock(l Line) {
	all := l.BlockAll
	if all == nil && len(l.Block) > 0 {
		all = new(BlockCounters)
		for _, c := range l.Block {
			all.add(c)
		}
	}
	for id, c := range l.Block {
		t := a.t.Block[id]
		t.add(c)
		a.t.Block[id] = t
	}
	if all != nil {
		if a.t.BlockAll == nil {
			a.t.BlockAll = new(BlockTotals)
		}
		a.t.BlockAll.add(*all)
	}
}

// updateRates closes the rate window when the line is at least
// MinRateWindowMs after its start. A timestamp that goes backwards (a VM
// restored from a snapshot, a host clock step) restarts the window rather
// than producing a negative rate.
func (a *Accumulator) updateRates(ms int64) {
	if a.hasBase && ms >= a.baseMs && ms-a.baseMs < MinRateWindowMs {
		return
	}
	if a.hasBase && ms > a.baseMs {
		sec := float64(ms-a.baseMs) / 1000
		for id, t := range a.t.Net {
			t.rates(a.baseNet[id], sec)
			a.t.Net[id] = t
		}
		if a.t.NetAll != nil {
			a.t.NetAll.rates(a.baseNetAll, sec)
		}
		for id, t := range a.t.Block {
			t.rates(a.baseBlock[id], sec)
			a.t.Block[id] = t
		}
		if a.t.BlockAll != nil {
			a.t.BlockAll.rates(a.baseBlockAll, sec)
		}
		a.t.RateWindowMs = ms - a.baseMs
	}
	a.setBase(ms)
}

func (a *Accumulator) setBase(ms int64) {
	a.baseMs, a.hasBase = ms, true
	a.baseNet = make(map[string]NetCounters, len(a.t.Net))
	for id, t := range a.t.Net {
		a.baseNet[id] = t.NetCounters
	}
	a.baseBlock = make(map[string]BlockCounters, len(a.t.Block))
	for id, t := range a.t.Block {
		a.baseBlock[id] = t.BlockCounters
	}
	if a.t.NetAll != nil {
		a.baseNetAll = a.t.NetAll.NetCounters
	}
	if a.t.BlockAll != nil {
		a.baseBlockAll = a.t.BlockAll.BlockCounters
	}
}

// Snapshot returns a deep copy of the totals.
func (a *Accumulator) Snapshot() Totals {
	t := a.t
	t.Net = make(map[string]NetTotals, len(a.t.Net))
	for id, v := range a.t.Net {
		t.Net[id] = v
	}
	t.Block = make(map[string]BlockTotals, len(a.t.Block))
	for id, v := range a.t.Block {
		t.Block[id] = v
	}
	if a.t.NetAll != nil {
		v := *a.t.NetAll
		t.NetAll = &v
	}
	if a.t.BlockAll != nil {
		v := *a.t.BlockAll
		t.BlockAll = &v
	}
	t.VMMTotals = a.t.VMMTotals.copy()
	return t
}

func (c *NetCounters) add(d NetCounters) {
	c.RxBytes += d.RxBytes
	c.TxBytes += d.TxBytes
	c.RxPackets += d.RxPackets
	c.TxPackets += d.TxPackets
	c.RxFails += d.RxFails
	c.TxFails += d.TxFails
	c.RxThrottled += d.RxThrottled
	c.TxThrottled += d.TxThrottled
	c.TapReadFails += d.TapReadFails
	c.TapWriteFails += d.TapWriteFails
}

func (c *BlockCounters) add(d BlockCounters) {
	c.ReadBytes += d.ReadBytes
	c.WriteBytes += d.WriteBytes
	c.ReadCount += d.ReadCount
	c.WriteCount += d.WriteCount
	c.FlushCount += d.FlushCount
	c.Throttled += d.Throttled
	c.IOEngineThrottled += d.IOEngineThrottled
}

func (t *NetTotals) rates(base NetCounters, sec float64) {
	t.RxBytesPerSec = float64(t.RxBytes-base.RxBytes) / sec
	t.TxBytesPerSec = float64(t.TxBytes-base.TxBytes) / sec
}

func (t *BlockTotals) rates(base BlockCounters, sec float64) {
	t.ReadBytesPerSec = float64(t.ReadBytes-base.ReadBytes) / sec
	t.WriteBytesPerSec = float64(t.WriteBytes-base.WriteBytes) / sec
}
