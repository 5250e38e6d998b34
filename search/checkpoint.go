package search

import (
	"bufio"
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"github.com/google/uuid"
)

// The checkpoint: the store's whole state as of a point in the log (every
// partition's points in slot order, tombstones included, their payloads,
// their normalised float32 vectors, and the HNSW graph with its int8
// codes), saved beside the log so that an open reads it instead of
// replaying the log, then replays only the records written after it.
//
// The log stays the record of truth: it begins with a random id (a marker
// record, see logMarker), and the checkpoint names the log it was taken
// of by that id and the offset up to which it holds the log's records.
// Records before that offset never change while the log keeps its id (the
// log only grows; a torn tail is cut only beyond what was acknowledged,
// and compaction writes a new log with a new id). A checkpoint of another
// log, one that claims more of the log than there is, or one that fails
// any check (checksums, sizes, offsets, links) is not used: the whole log
// is replayed and the graphs rebuilt, as if there were none
// (CheckpointError says why). It can cost time, never a wrong answer.
//
// The file is mapped read-only and the vectors stay in the mapping
// rather than on the heap: the page cache holds them, shared and
// reclaimable, and a search touches only the pages of the points it
// re-scores. The int8 codes, which a graph search reads at random by the
// thousand, are served from the mapping at first, then copied onto the
// heap in the background (moveCodes; 1.5 KiB a point at 1536
// dimensions). A new checkpoint is written to a temporary file, fsynced and
// renamed over the old one (a crash at any moment leaves the old file or
// the new one whole), whose mapping stays valid, since the points still
// use it, until Close.
//
// The posting lists are mapped too (read-only, full: a point added later
// appends to a copy on the heap), so that an open builds no more than
// the maps by id.
//
// Layout, little-endian: a header of 64 bytes (magic, version,
// dimensions, the log's id, the log offset, the checksum block size);
// for each partition its meta (slot ids, nil for a tombstone; the graph's
// scales and links), its codes, its vectors (each region aligned to 64
// bytes), its payloads (a uint32 length then the payload, for each slot,
// 0 for a tombstone: payload.go), its terms (term, document frequency,
// largest weight, length of the list) and its posting lists (all the
// slots, then all the weights, list after list); then the CRC-32C of each block
// of ckptBlock bytes of all that; a table of the partitions; a trailer
// with the offsets of the sums and of the table and a CRC-32C of both.
const (
	checkpointName = "store.ckpt"
	// legacyCheckpointName is version 1's file (graphs only), removed when
	// a checkpoint is saved.
	legacyCheckpointName = "graphs.ckpt"
	checkpointMagic      = "ragdCKPT"
	checkpointVersion    = 2
	ckptHeaderSize       = 64
	ckptTrailerSize      = 32
	ckptEntrySize        = 16 + 4*4 + 10*8 // tenant, slots, indexed, entry, level, offsets and counts
	// ckptBlock is the span of each checksum a store writes (the header
	// says it, and a reader takes the header's: tests write smaller
	// ones): blocks are checked in parallel at an open, except those of
	// vectors alone, which are checked after it (see vectorCheck).
	ckptBlock = 16 << 20
	// ckptMinBlock and ckptMaxBlock bound the span a file may give.
	ckptMinBlock, ckptMaxBlock = 4 << 10, 1 << 30
	// ckptMaxLevel bounds a node's level read from a file (a level is
	// about log16 of the points: 5 at a million).
	ckptMaxLevel = 32
	// checkpointTail is how much log beyond the checkpoint an open
	// replays before the store saves a new checkpoint (in the background,
	// after the graphs are built). Close saves whenever anything changed.
	checkpointTail = 64 << 20
)

// errCheckpoint marks a checkpoint that was not used.
var errCheckpoint = errors.New("checkpoint not used")

func (e *Embedded) checkpointPath() string { return filepath.Join(e.dir, checkpointName) }

// littleEndian says whether the machine's float32s are stored as the file's.
var littleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// ckptEntry describes one partition in the table.
type ckptEntry struct {
	tenant                   uuid.UUID
	slots, indexed           uint32
	entry                    int32
	maxLevel                 uint32
	metaOff, metaLen         uint64
	codesOff, vecsOff        uint64
	payloadsOff, payloadsLen uint64
	termsOff, terms          uint64
	postingsOff, postings    uint64
}

// checkpointStale reports whether the state differs from the last
// checkpoint saved or loaded.
func (e *Embedded) checkpointStale() bool {
	if e.dims == 0 || !littleEndian {
		return false
	}
	if e.logID != e.savedLog || e.applied != e.savedApplied {
		return true
	}
	for _, part := range e.tenants {
		if part.graph != part.savedGraph || part.indexed != part.savedIndexed {
			return true
		}
	}
	return false
}

// saveCheckpoint writes the state as of e.applied. Called with mu held
// (read or write): the partitions do not change while it writes.
func (e *Embedded) saveCheckpoint() error {
	if !littleEndian || e.dims == 0 || e.logID == uuid.Nil {
		return nil
	}
	if !e.vectorsTrusted() {
		return errVectorsUnchecked // callers ask first; this is the guard
	}
	if err := replaceFile(e.checkpointPath(), e.writeCheckpoint); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	os.Remove(filepath.Join(e.dir, legacyCheckpointName))
	e.savedLog, e.savedApplied = e.logID, e.applied
	for _, part := range e.tenants {
		part.savedGraph, part.savedIndexed = part.graph, part.indexed
	}
	return nil
}

// ckptWriter writes at a known offset and sums each block.
type ckptWriter struct {
	w     *bufio.Writer
	block uint64 // the span of a sum
	off   uint64
	crc   uint32 // of the block being written
	sums  []byte
	err   error
}

func (cw *ckptWriter) write(b []byte) {
	for len(b) > 0 && cw.err == nil {
		n := min(len(b), int(cw.block-cw.off%cw.block))
		cw.crc = crc32.Update(cw.crc, crcTable, b[:n])
		_, cw.err = cw.w.Write(b[:n])
		cw.off += uint64(n)
		b = b[n:]
		if cw.off%cw.block == 0 {
			cw.sums = binary.LittleEndian.AppendUint32(cw.sums, cw.crc)
			cw.crc = 0
		}
	}
}

// align pads to a multiple of 64 bytes.
func (cw *ckptWriter) align() {
	if pad := (64 - cw.off%64) % 64; pad > 0 {
		cw.write(make([]byte, pad))
	}
}

func (e *Embedded) writeCheckpoint(f *os.File) error {
	cw := &ckptWriter{w: bufio.NewWriterSize(f, 1<<20), block: cmp.Or(e.ckptBlock, ckptBlock)}
	hdr := make([]byte, ckptHeaderSize)
	copy(hdr, checkpointMagic)
	binary.LittleEndian.PutUint32(hdr[8:], checkpointVersion)
	binary.LittleEndian.PutUint32(hdr[12:], uint32(e.dims))
	copy(hdr[16:32], e.logID[:])
	binary.LittleEndian.PutUint64(hdr[32:], uint64(e.applied))
	binary.LittleEndian.PutUint32(hdr[40:], uint32(cw.block))
	cw.write(hdr)
	var table []byte
	buf := make([]byte, 4, 4096)
	for tenant, part := range e.tenants {
		g, n, ix := part.graph, len(part.slots), 0
		if g != nil {
			ix = part.indexed
		}
		ent := ckptEntry{tenant: tenant, slots: uint32(n), indexed: uint32(ix), entry: -1}
		if ix > 0 {
			ent.entry, ent.maxLevel = g.entry, uint32(g.maxLevel)
		}
		cw.align()
		ent.metaOff = cw.off
		meta := make([]byte, 0, 16*n+4*ix)
		for _, p := range part.slots {
			id := uuid.Nil // a tombstone
			if p != nil {
				id = p.ID
			}
			meta = append(meta, id[:]...)
		}
		for s := range ix {
			meta = binary.LittleEndian.AppendUint32(meta, math.Float32bits(g.scales[s]))
		}
		for s := range ix {
			links := g.nodes[s].links
			meta = append(meta, byte(len(links)))
			for _, l := range links {
				meta = binary.LittleEndian.AppendUint16(meta, uint16(len(l)))
				for _, id := range l {
					meta = binary.LittleEndian.AppendUint32(meta, uint32(id))
				}
			}
		}
		cw.write(meta)
		ent.metaLen = uint64(len(meta))
		cw.align()
		ent.codesOff = cw.off
		for s := range ix {
			cw.write(int8Bytes(g.codes[s]))
		}
		cw.align()
		ent.vecsOff = cw.off
		for _, v := range part.vecs {
			cw.write(float32Bytes(v))
		}
		ent.payloadsOff = cw.off
		for _, p := range part.slots {
			buf = buf[:4]
			if p != nil {
				var err error
				if buf, err = appendPayload(buf, p); err != nil {
					return fmt.Errorf("point %s: %w", p.ID, err)
				}
			}
			binary.LittleEndian.PutUint32(buf, uint32(len(buf)-4))
			cw.write(buf)
		}
		ent.payloadsLen = cw.off - ent.payloadsOff
		cw.align()
		ent.termsOff = cw.off
		terms := make([]uint32, 0, len(part.terms))
		tb := make([]byte, 0, 16*len(part.terms))
		for t, pl := range part.terms {
			terms = append(terms, t)
			tb = binary.LittleEndian.AppendUint32(tb, t)
			tb = binary.LittleEndian.AppendUint32(tb, uint32(part.df[t]))
			tb = binary.LittleEndian.AppendUint32(tb, math.Float32bits(pl.max))
			tb = binary.LittleEndian.AppendUint32(tb, uint32(len(pl.slots)))
			ent.postings += uint64(len(pl.slots))
		}
		cw.write(tb)
		ent.terms = uint64(len(terms))
		cw.align()
		ent.postingsOff = cw.off
		for _, t := range terms {
			cw.write(int32Bytes(part.terms[t].slots))
		}
		for _, t := range terms {
			cw.write(float32Bytes(part.terms[t].vals))
		}
		table = append(table, ent.tenant[:]...)
		for _, v := range []uint32{ent.slots, ent.indexed, uint32(ent.entry), ent.maxLevel} {
			table = binary.LittleEndian.AppendUint32(table, v)
		}
		for _, o := range []uint64{ent.metaOff, ent.metaLen, ent.codesOff, ent.vecsOff, ent.payloadsOff, ent.payloadsLen,
			ent.termsOff, ent.terms, ent.postingsOff, ent.postings} {
			table = binary.LittleEndian.AppendUint64(table, o)
		}
	}
	if cw.off%cw.block != 0 {
		cw.sums = binary.LittleEndian.AppendUint32(cw.sums, cw.crc)
	}
	sumsOff := cw.off
	tail := append(cw.sums, table...)
	tr := binary.LittleEndian.AppendUint64(nil, sumsOff)
	tr = binary.LittleEndian.AppendUint64(tr, sumsOff+uint64(len(cw.sums)))
	tr = binary.LittleEndian.AppendUint32(tr, uint32(len(table)/ckptEntrySize))
	tr = binary.LittleEndian.AppendUint32(tr, crc32.Checksum(tail, crcTable))
	tr = append(tr, checkpointMagic...)
	if cw.err != nil {
		return cw.err
	}
	if _, err := cw.w.Write(append(tail, tr...)); err != nil {
		return err
	}
	return cw.w.Flush()
}

// float32Bytes and int8Bytes view a vector's memory as bytes.
func float32Bytes(v []float32) []byte {
	if len(v) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(v))), 4*len(v))
}

func int32Bytes(v []int32) []byte {
	if len(v) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(v))), 4*len(v))
}

func int8Bytes(v []int8) []byte {
	if len(v) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(v))), len(v))
}

// loadCheckpoint reads the checkpoint of the log whose id is logID and
// whose length is logSize into e (partitions, dimensions, mapping) and
// returns the log offset its state covers, from which the log is to be
// replayed. A missing checkpoint is no error; any other reason not to
// use it is returned (wrapping errCheckpoint), and e is left as it was.
// Called by load, before the store serves.
func (e *Embedded) loadCheckpoint(logID uuid.UUID, logSize int64) (int64, error) {
	f, err := os.Open(e.checkpointPath())
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("%w: %w", errCheckpoint, err)
	}
	keep := false // the file stays open for the check of the vectors
	defer func() {
		if !keep {
			f.Close()
		}
	}()
	if !littleEndian {
		return 0, fmt.Errorf("%w: the file is little-endian, this machine is not", errCheckpoint)
	}
	fi, err := f.Stat()
	if err != nil {
		return 0, fmt.Errorf("%w: %w", errCheckpoint, err)
	}
	size := fi.Size()
	if size < ckptHeaderSize+ckptTrailerSize || size > math.MaxInt-1 {
		return 0, fmt.Errorf("%w: %d bytes is too short", errCheckpoint, size)
	}
	data, err := syscall.Mmap(int(f.Fd()), 0, int(size), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return 0, fmt.Errorf("%w: map: %w", errCheckpoint, err)
	}
	c, err := parseCheckpoint(data, f, logID, logSize)
	if err != nil {
		syscall.Munmap(data)
		return 0, fmt.Errorf("%w: %s: %w", errCheckpoint, e.checkpointPath(), err)
	}
	e.mappings = append(e.mappings, data)
	e.dims, e.tenants = c.dims, c.tenants
	for _, part := range e.tenants {
		part.savedGraph, part.savedIndexed = part.graph, part.indexed
	}
	e.savedLog, e.savedApplied = logID, c.applied
	if len(c.deferred) > 0 {
		keep = true
		e.check = &vectorCheck{f: f, path: e.checkpointPath(), block: c.block, size: c.sumsOff, sums: c.sums, blocks: c.deferred,
			stop: make(chan struct{}), done: make(chan struct{})}
	}
	return c.applied, nil
}

// checkpoint is a parsed checkpoint.
type checkpoint struct {
	dims    int
	applied int64
	tenants map[uuid.UUID]*partition
	// deferred are the blocks left unchecked (vectors alone), block
	// their span, sums (in the mapping) the sums of the sumsOff bytes
	// summed.
	deferred []int
	block    uint64
	sums     []byte
	sumsOff  uint64
}

// parseCheckpoint checks a mapped checkpoint (f is its file, read to
// check the sums without mapping every page into the process) and builds
// its partitions. The blocks that hold nothing but vectors are left to
// be checked after the open (c.deferred): the vectors are three quarters
// of the file, and an open reads none of them. It changes nothing
// outside what it returns.
func parseCheckpoint(data []byte, f *os.File, logID uuid.UUID, logSize int64) (_ *checkpoint, err error) {
	defer func() {
		// The checks below should leave no index out of range; should one
		// slip, the checkpoint is not used rather than the server lost.
		if r := recover(); r != nil {
			err = fmt.Errorf("unreadable: %v", r)
		}
	}()
	le := binary.LittleEndian
	if string(data[:8]) != checkpointMagic || string(data[len(data)-8:]) != checkpointMagic {
		return nil, errors.New("not a checkpoint of this version")
	}
	if v := le.Uint32(data[8:]); v != checkpointVersion {
		return nil, fmt.Errorf("version %d, this ragd reads %d", v, checkpointVersion)
	}
	c := &checkpoint{dims: int(le.Uint32(data[12:])), applied: int64(le.Uint64(data[32:])), tenants: map[uuid.UUID]*partition{}}
	if id := uuid.UUID(data[16:32]); id != logID {
		return nil, fmt.Errorf("taken of log %s, the log is %s", id, logID)
	}
	if c.applied <= 0 || c.applied > logSize {
		return nil, fmt.Errorf("holds the log up to byte %d, the log has %d", c.applied, logSize)
	}
	c.block = uint64(le.Uint32(data[40:]))
	if c.dims < 1 || c.block < ckptMinBlock || c.block > ckptMaxBlock || c.block%ckptMinBlock != 0 {
		return nil, errors.New("bad header")
	}
	tr := data[len(data)-ckptTrailerSize:]
	sumsOff, tableOff, count, sum := le.Uint64(tr), le.Uint64(tr[8:]), uint64(le.Uint32(tr[16:])), le.Uint32(tr[20:])
	end := uint64(len(data) - ckptTrailerSize)
	blocks := (sumsOff + c.block - 1) / c.block
	if sumsOff < ckptHeaderSize || tableOff > end || tableOff-sumsOff != 4*blocks || end-tableOff != count*ckptEntrySize {
		return nil, errors.New("bad trailer")
	}
	if crc32.Checksum(data[sumsOff:end], crcTable) != sum {
		return nil, errors.New("checksum mismatch in the table")
	}
	c.sums, c.sumsOff = data[sumsOff:tableOff], sumsOff
	dims := uint64(c.dims)
	prev := uint64(ckptHeaderSize)
	ents := make([]ckptEntry, 0, count)
	for i := range count {
		b := data[tableOff+i*ckptEntrySize:]
		ent := ckptEntry{tenant: uuid.UUID(b[:16]), slots: le.Uint32(b[16:]), indexed: le.Uint32(b[20:]), entry: int32(le.Uint32(b[24:])), maxLevel: le.Uint32(b[28:]),
			metaOff: le.Uint64(b[32:]), metaLen: le.Uint64(b[40:]), codesOff: le.Uint64(b[48:]), vecsOff: le.Uint64(b[56:]),
			payloadsOff: le.Uint64(b[64:]), payloadsLen: le.Uint64(b[72:]),
			termsOff: le.Uint64(b[80:]), terms: le.Uint64(b[88:]), postingsOff: le.Uint64(b[96:]), postings: le.Uint64(b[104:])}
		n, ix := uint64(ent.slots), uint64(ent.indexed)
		if n > sumsOff/dims/4 || ix > n {
			return nil, fmt.Errorf("partition %d: %d slots do not fit", i, n)
		}
		if ent.metaOff < prev || ent.metaOff > sumsOff || ent.metaLen > sumsOff || ent.metaOff+ent.metaLen > ent.codesOff ||
			ent.codesOff%64 != 0 || ent.codesOff+ix*dims > ent.vecsOff || ent.vecsOff%64 != 0 ||
			ent.vecsOff+4*n*dims != ent.payloadsOff || ent.payloadsLen > sumsOff || ent.payloadsOff+ent.payloadsLen > ent.termsOff ||
			ent.termsOff%64 != 0 || ent.terms > sumsOff/16 || ent.termsOff+16*ent.terms > ent.postingsOff ||
			ent.postingsOff%64 != 0 || ent.postings > sumsOff/8 || ent.postingsOff+8*ent.postings > sumsOff {
			return nil, fmt.Errorf("partition %d: bad offsets", i)
		}
		prev = ent.postingsOff + 8*ent.postings
		ents = append(ents, ent)
	}
	// A block is checked now unless it lies within one partition's
	// vectors, which nothing reads before a query re-scores its hits.
	now := make([]int, 0, blocks)
	for i := range int(blocks) {
		lo := uint64(i) * c.block
		hi := min(lo+c.block, sumsOff)
		if slices.ContainsFunc(ents, func(ent ckptEntry) bool { return ent.vecsOff <= lo && hi <= ent.payloadsOff }) {
			c.deferred = append(c.deferred, i)
		} else {
			now = append(now, i)
		}
	}
	if err := checkBlocks(f, c.block, sumsOff, c.sums, now, runtime.GOMAXPROCS(0), nil); err != nil {
		return nil, err
	}
	for i, ent := range ents {
		if c.tenants[ent.tenant] != nil {
			return nil, fmt.Errorf("partition %d: tenant %s twice", i, ent.tenant)
		}
		part, err := ent.partition(data, c.dims)
		if err != nil {
			return nil, fmt.Errorf("tenant %s: %w", ent.tenant, err)
		}
		c.tenants[ent.tenant] = part
	}
	return c, nil
}

// errVectorsUnchecked refuses to save a checkpoint whose vectors would
// come from a mapping not (or not yet) found whole.
var errVectorsUnchecked = errors.New("checkpoint: the vectors of the one loaded are not checked yet, or damaged")

// errCheckStopped is a vectorCheck's result when Close stopped it.
var errCheckStopped = errors.New("the check of the checkpoint's vectors was stopped by Close")

// checkBlocks compares the blocks of f's first n bytes that are listed
// with their CRC-32C in sums, on up to workers cores, until stop (if not
// nil) is closed.
func checkBlocks(f *os.File, block, n uint64, sums []byte, list []int, workers int, stop <-chan struct{}) error {
	workers = min(workers, len(list))
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			buf := make([]byte, block)
			for j := w; j < len(list); j += workers {
				select {
				case <-stop:
					errs[w] = errCheckStopped
					return
				default:
				}
				i := list[j]
				off := uint64(i) * block
				b := buf[:min(block, n-off)]
				if _, err := f.ReadAt(b, int64(off)); err != nil && !errors.Is(err, io.EOF) {
					errs[w] = err
					return
				}
				if crc32.Checksum(b, crcTable) != binary.LittleEndian.Uint32(sums[4*i:]) {
					errs[w] = fmt.Errorf("checksum mismatch in block %d", i)
					return
				}
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// vectorCheck is the check of the blocks of a loaded checkpoint that hold
// nothing but vectors, which the open leaves to the background: at a
// million points of 1536 dimensions it is 6 of the file's 8.6 GB, which
// the open would read from the disk before serving.
//
// Until it has passed, the vectors in the mapping are not trusted to be
// written anywhere: no checkpoint is saved and the log is not compacted
// (either would copy damage into a file whose sums then vouch for it).
// A query re-scores with them meanwhile, as it would with a page of the
// mapping that the kernel evicted and read again, which no check sees.
// If a block is damaged, the checkpoint file is removed, CheckpointError
// says so, and the store saves nothing until it is opened again, when it
// replays its log: the log is the record of truth.
type vectorCheck struct {
	f           *os.File
	path        string
	block, size uint64
	sums        []byte
	blocks      []int
	stop        chan struct{} // closed by Close
	stopOnce    sync.Once
	done        chan struct{} // closed when err is set
	err         error         // nil if the blocks passed
}

// checkVectors runs the vectorCheck on one core, leaving the others to
// the queries the store serves meanwhile.
func (e *Embedded) checkVectors() {
	c := e.check
	defer e.bg.Done()
	defer close(c.done)
	defer c.f.Close()
	start := time.Now()
	if g := checkGate; g != nil {
		select {
		case <-g:
		case <-c.stop:
		}
	}
	c.err = checkBlocks(c.f, c.block, c.size, c.sums, c.blocks, 1, c.stop)
	if c.err != nil && !errors.Is(c.err, errCheckStopped) {
		os.Remove(c.path) // no save has replaced it: saves wait for this check
		e.setCheckpointError(fmt.Errorf("%w: %s: the vectors are damaged (%w): the store serves until it is opened again, which replays its log", errCheckpoint, c.path, c.err))
	}
	e.checked = time.Since(start)
}

// moveCodes copies the graphs' int8 codes that are still in the
// checkpoint's mapping onto the heap, a partition at a time, and swaps
// them in under the write lock. Read through the file mapping, where the
// graph walk reads them at random, they made dense queries at 1M about
// 1.35 times as slow (BENCHMARKS.md, "a million points through the
// store"); copying them at the open instead made the open several times
// as long on this machine, where first touching fresh memory is slow.
// It runs after the vectors' check, so as not to compete with it for the
// disk, and stops when the store closes.
func (e *Embedded) moveCodes() {
	defer e.bg.Done()
	if c := e.check; c != nil {
		<-c.done
	}
	for {
		e.mu.RLock()
		var part *partition
		var g *hnsw
		var src []int8
		if !e.closed {
			for _, p := range e.tenants {
				if p.graph != nil && p.graph.mappedCodes > 0 {
					part, g = p, p.graph
					src = unsafe.Slice(unsafe.SliceData(g.codes[0]), g.mappedCodes*e.dims)
					break
				}
			}
		}
		dims := e.dims
		e.mu.RUnlock()
		if part == nil {
			return
		}
		// The codes of slots below mappedCodes never change: a graph
		// only appends, and a compaction builds a new one.
		heap := slices.Clone(src)
		e.mu.Lock()
		if !e.closed && part.graph == g {
			for s := range g.mappedCodes {
				g.codes[s] = heap[s*dims : (s+1)*dims : (s+1)*dims]
			}
		}
		g.mappedCodes = 0
		e.mu.Unlock()
	}
}

// checkGate, when a test sets it, holds each vectorCheck until it is
// closed (or the check is stopped): the state between the open and the
// end of the check, which is otherwise too short to look at.
var checkGate chan struct{}

// vectorsTrusted says whether the points' vectors may be written to a
// checkpoint or a compacted log: true unless a vectorCheck has not
// passed. Called with mu held.
func (e *Embedded) vectorsTrusted() bool {
	if e.check == nil {
		return true
	}
	select {
	case <-e.check.done:
		return e.check.err == nil
	default:
		return false
	}
}

// WaitChecked waits for the check of the checkpoint's vectors that an
// open leaves to the background (at once if there is none) and returns
// what it found: nil if they are whole.
func (e *Embedded) WaitChecked(ctx context.Context) error {
	if e.check == nil {
		return nil
	}
	select {
	case <-e.check.done:
		return e.check.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// partition builds the entry's partition: its points (payloads decoded on
// every core), the vectors and codes in the mapping, and the graph.
func (ent ckptEntry) partition(data []byte, dims int) (*partition, error) {
	le := binary.LittleEndian
	n, ix := int(ent.slots), int(ent.indexed)
	meta := data[ent.metaOff : ent.metaOff+ent.metaLen]
	if len(meta) < 16*n+4*ix {
		return nil, errors.New("short meta")
	}
	ids, scales, links := meta[:16*n], meta[16*n:16*n+4*ix], meta[16*n+4*ix:]
	vec := func(s int) []float32 {
		return unsafe.Slice((*float32)(unsafe.Pointer(&data[ent.vecsOff+uint64(4*s*dims)])), dims)
	}

	// Payloads: find each slot's, then decode them on every core.
	payloads := data[ent.payloadsOff : ent.payloadsOff+ent.payloadsLen]
	offs := make([]uint64, n+1)
	at := uint64(0)
	for s := range n {
		if at+4 > uint64(len(payloads)) {
			return nil, errors.New("short payloads")
		}
		at += 4 + uint64(le.Uint32(payloads[at:]))
		offs[s+1] = at
	}
	if at != uint64(len(payloads)) {
		return nil, errors.New("trailing bytes in the payloads")
	}
	points := make([]Point, n)
	workers := max(1, min(runtime.GOMAXPROCS(0), n/1024))
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		lo, hi := n*w/workers, n*(w+1)/workers
		wg.Go(func() {
			for s := lo; s < hi; s++ {
				b := payloads[offs[s]+4 : offs[s+1]]
				if len(b) == 0 {
					continue // a tombstone
				}
				p := &points[s]
				p.ID, p.TenantID, p.Dense = uuid.UUID(ids[16*s:16*s+16]), ent.tenant, vec(s)
				if err := decodePayload(b, p); err != nil {
					errs[w] = fmt.Errorf("slot %d: %w", s, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	part := newPartition()
	part.points, part.slot = make(map[uuid.UUID]*Point, n), make(map[uuid.UUID]int32, n)
	part.slots = make([]*Point, 0, n)
	part.vecs = make([][]float32, 0, n)
	for s := range n {
		if offs[s+1]-offs[s] == 4 {
			part.slots = append(part.slots, nil)
			part.vecs = append(part.vecs, vec(s))
			part.dead++
			continue
		}
		p := &points[s]
		if part.points[p.ID] != nil {
			return nil, fmt.Errorf("point %s twice", p.ID)
		}
		part.place(p) // its Dense is the mapping's; its terms are in the lists below
	}
	if err := ent.postingLists(part, data); err != nil {
		return nil, err
	}
	if ix == 0 {
		return part, nil
	}

	// The graph: check the links, then lay them out in one array.
	if ent.entry < 0 || int(ent.entry) >= ix || ent.maxLevel >= ckptMaxLevel {
		return nil, errors.New("bad entry point")
	}
	total, rest := 0, links
	for s := range ix {
		if len(rest) < 1 {
			return nil, errors.New("short links")
		}
		levels := int(rest[0])
		rest = rest[1:]
		if levels > ckptMaxLevel || (s == int(ent.entry) && levels != int(ent.maxLevel)+1) {
			return nil, fmt.Errorf("slot %d: bad level", s)
		}
		for range levels {
			if len(rest) < 2 {
				return nil, errors.New("short links")
			}
			c := int(le.Uint16(rest))
			if c > 2*hnswM || len(rest) < 2+4*c {
				return nil, fmt.Errorf("slot %d: bad links", s)
			}
			for j := range c {
				if id := le.Uint32(rest[2+4*j:]); id >= uint32(ix) {
					return nil, fmt.Errorf("slot %d: link to slot %d of %d", s, id, ix)
				}
			}
			total += c
			rest = rest[2+4*c:]
		}
	}
	if len(rest) != 0 {
		return nil, errors.New("trailing bytes in the links")
	}
	g := newHNSW()
	g.entry, g.maxLevel = ent.entry, int(ent.maxLevel)
	g.nodes = make([]hnswNode, ix)
	g.codes = make([][]int8, ix)
	g.scales = make([]float32, ix)
	// The codes stay in the mapping until moveCodes copies them to the
	// heap after the open.
	codes := unsafe.Slice((*int8)(unsafe.Pointer(&data[ent.codesOff])), ix*dims)
	g.mappedCodes = ix
	all := make([]int32, total)
	for s := range ix {
		levels := int(links[0])
		links = links[1:]
		if levels > 0 {
			g.nodes[s].links = make([][]int32, levels)
		}
		for l := range levels {
			c := int(le.Uint16(links))
			ls := all[:c:c] // full: an append while linking copies, never spills into the next node's
			all = all[c:]
			for j := range ls {
				ls[j] = int32(le.Uint32(links[2+4*j:]))
			}
			g.nodes[s].links[l] = ls
			links = links[2+4*c:]
		}
		g.scales[s] = math.Float32frombits(le.Uint32(scales[4*s:]))
		g.codes[s] = codes[s*dims : (s+1)*dims : (s+1)*dims]
	}
	g.vecs = part.vecs[:ix]
	g.locks = make([]sync.Mutex, len(part.vecs))
	part.graph, part.indexed = g, ix
	return part, nil
}

// postingLists gives part the entry's posting lists and document
// frequencies, the lists' slots and weights in the mapping.
func (ent ckptEntry) postingLists(part *partition, data []byte) error {
	le := binary.LittleEndian
	nt, total, n := int(ent.terms), int(ent.postings), int32(ent.slots)
	part.terms, part.df = make(map[uint32]*postingList, nt), make(map[uint32]int, nt)
	if total == 0 {
		if nt != 0 {
			return errors.New("terms without postings")
		}
		return nil
	}
	slots := unsafe.Slice((*int32)(unsafe.Pointer(&data[ent.postingsOff])), total)
	vals := unsafe.Slice((*float32)(unsafe.Pointer(&data[ent.postingsOff+4*uint64(total)])), total)
	tb := data[ent.termsOff : ent.termsOff+16*uint64(nt)]
	at := 0
	for i := range nt {
		t, df, c := le.Uint32(tb[16*i:]), int(le.Uint32(tb[16*i+4:])), int(le.Uint32(tb[16*i+12:]))
		if c > total-at || part.terms[t] != nil || df > c {
			return fmt.Errorf("term %d: bad posting list", t)
		}
		pl := &postingList{slots: slots[at : at+c : at+c], vals: vals[at : at+c : at+c], max: math.Float32frombits(le.Uint32(tb[16*i+8:]))}
		// sparse walks a list in slot order and reads the slot's point.
		prev := int32(-1)
		for _, s := range pl.slots {
			if s <= prev || s >= n {
				return fmt.Errorf("term %d: slot %d out of order or range", t, s)
			}
			prev = s
		}
		part.terms[t] = pl
		if df > 0 {
			part.df[t] = df
		}
		at += c
	}
	if at != total {
		return errors.New("postings out of step")
	}
	return nil
}

// CheckpointError says why the checkpoint was not used when the store
// opened (the whole log was then replayed and the graphs rebuilt), or
// why the last attempt to save one failed; nil when neither happened.
func (e *Embedded) CheckpointError() error {
	e.ckptMu.Lock()
	defer e.ckptMu.Unlock()
	return e.ckptErr
}
