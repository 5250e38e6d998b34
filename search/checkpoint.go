package search

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"unsafe"

	"github.com/google/uuid"
)

// The graph checkpoint: the HNSW graphs of the partitions, their int8
// codes and their normalised float32 vectors, saved beside the log (after
// the build that follows an open, and at Close when a graph changed) so
// that an open does not rebuild them. The log stays the only record of
// the points: a checkpoint names each slot's point by id, and a slot is
// used only if the log still holds that point with a bit-identical
// vector; other slots become tombstones the graph walks through, and
// points the checkpoint does not know are linked in the background as
// after any open. A checkpoint that cannot be read, or whose checksum,
// sizes or links are wrong, is ignored (CheckpointError says why) and
// the graphs are rebuilt: it can cost time, never a wrong answer.
//
// The file is mapped read-only, and the slots it covers keep their
// vectors and codes in the mapping rather than on the heap: the page
// cache holds them, shared and reclaimable, and a search touches only
// the pages of the points it reads. A new checkpoint is written to a
// temporary file and renamed over the old one, whose mapping stays valid
// (the points still use it) until Close.
//
// Layout, little-endian: a header (magic, version, dimensions); for each
// partition its meta (slot ids, scales, links), its codes and its vectors,
// each region aligned to 64 bytes; a table of the partitions; a trailer
// with the table's offset and a CRC-32C of the header, the metas, the
// codes and the table. The vectors are not in the checksum: each is
// compared with the log's.
const (
	checkpointName    = "graphs.ckpt"
	checkpointMagic   = "ragdHNSW"
	checkpointVersion = 1
	ckptHeaderSize    = 16
	ckptTrailerSize   = 24
	ckptEntrySize     = 16 + 4 + 4 + 4 + 4 + 4*8 // tenant, slots, entry, level, padding, offsets
	// ckptMaxLevel bounds a node's level read from a file (a level is
	// about log16 of the points: 5 at a million).
	ckptMaxLevel = 32
)

// errCheckpoint marks a checkpoint that was not used.
var errCheckpoint = errors.New("graph checkpoint not used")

func (e *Embedded) checkpointPath() string { return filepath.Join(e.dir, checkpointName) }

// littleEndian says whether the machine's float32s are stored as the file's.
var littleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// ckptEntry describes one partition in the table.
type ckptEntry struct {
	tenant                              uuid.UUID
	slots                               uint32
	entry                               int32
	maxLevel                            uint32
	dims                                uint32 // not stored: the header's
	metaOff, metaLen, codesOff, vecsOff uint64
}

// saveCheckpoint writes the graphs of the partitions that have one.
// Called with mu held (read or write): the partitions do not change
// while it writes.
func (e *Embedded) saveCheckpoint() error {
	if !littleEndian || e.dims == 0 {
		return nil
	}
	tmp := e.checkpointPath() + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("graph checkpoint: %w", err)
	}
	err = e.writeCheckpoint(f)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, e.checkpointPath())
	}
	if err == nil {
		err = syncDir(e.dir)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("graph checkpoint: %w", err)
	}
	for _, part := range e.tenants {
		part.savedGraph, part.savedIndexed = part.graph, part.indexed
	}
	return nil
}

// ckptWriter writes at a known offset and sums what the checksum covers.
type ckptWriter struct {
	w   *bufio.Writer
	off uint64
	crc uint32
	err error
}

func (cw *ckptWriter) write(b []byte, summed bool) {
	if cw.err != nil {
		return
	}
	if summed {
		cw.crc = crc32.Update(cw.crc, crcTable, b)
	}
	_, cw.err = cw.w.Write(b)
	cw.off += uint64(len(b))
}

// align pads to a multiple of 64 bytes (padding is summed as zeros).
func (cw *ckptWriter) align() {
	if pad := (64 - cw.off%64) % 64; pad > 0 {
		cw.write(make([]byte, pad), true)
	}
}

func (e *Embedded) writeCheckpoint(f *os.File) error {
	cw := &ckptWriter{w: bufio.NewWriterSize(f, 1<<20)}
	hdr := append([]byte(checkpointMagic), 0, 0, 0, 0, 0, 0, 0, 0)
	binary.LittleEndian.PutUint32(hdr[8:], checkpointVersion)
	binary.LittleEndian.PutUint32(hdr[12:], uint32(e.dims))
	cw.write(hdr, true)
	var table []byte
	for tenant, part := range e.tenants {
		g := part.graph
		if g == nil || part.indexed == 0 {
			continue
		}
		n := part.indexed
		ent := ckptEntry{tenant: tenant, slots: uint32(n), entry: g.entry, maxLevel: uint32(g.maxLevel)}
		cw.align()
		ent.metaOff = cw.off
		var meta []byte
		for s := range n {
			id := uuid.Nil // a tombstone
			if p := part.slots[s]; p != nil {
				id = p.ID
			}
			meta = append(meta, id[:]...)
		}
		for s := range n {
			meta = binary.LittleEndian.AppendUint32(meta, math.Float32bits(g.scales[s]))
		}
		for s := range n {
			links := g.nodes[s].links
			meta = append(meta, byte(len(links)))
			for _, l := range links {
				meta = binary.LittleEndian.AppendUint16(meta, uint16(len(l)))
				for _, id := range l {
					meta = binary.LittleEndian.AppendUint32(meta, uint32(id))
				}
			}
		}
		cw.write(meta, true)
		ent.metaLen = uint64(len(meta))
		cw.align()
		ent.codesOff = cw.off
		for s := range n {
			cw.write(int8Bytes(g.codes[s]), true)
		}
		cw.align()
		ent.vecsOff = cw.off
		for s := range n {
			cw.write(float32Bytes(part.vecs[s]), false)
		}
		table = append(table, ent.tenant[:]...)
		table = binary.LittleEndian.AppendUint32(table, ent.slots)
		table = binary.LittleEndian.AppendUint32(table, uint32(ent.entry))
		table = binary.LittleEndian.AppendUint32(table, ent.maxLevel)
		table = binary.LittleEndian.AppendUint32(table, 0)
		for _, o := range []uint64{ent.metaOff, ent.metaLen, ent.codesOff, ent.vecsOff} {
			table = binary.LittleEndian.AppendUint64(table, o)
		}
	}
	tableOff := cw.off
	cw.write(table, true)
	tr := binary.LittleEndian.AppendUint64(nil, tableOff)
	tr = binary.LittleEndian.AppendUint32(tr, uint32(len(table)/ckptEntrySize))
	tr = binary.LittleEndian.AppendUint32(tr, cw.crc)
	tr = append(tr, checkpointMagic...)
	cw.write(tr, false)
	if cw.err != nil {
		return cw.err
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

func int8Bytes(v []int8) []byte {
	if len(v) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(v))), len(v))
}

// loadCheckpoint gives the replayed partitions the graphs the checkpoint
// holds for them (see the top of this file). Called by load, before the
// store serves. A missing checkpoint is no error; any other reason not to
// use it is returned (wrapping errCheckpoint), and the partitions are left
// as the replay made them.
func (e *Embedded) loadCheckpoint() error {
	f, err := os.Open(e.checkpointPath())
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%w: %w", errCheckpoint, err)
	}
	defer f.Close()
	if !littleEndian {
		return fmt.Errorf("%w: the file is little-endian, this machine is not", errCheckpoint)
	}
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("%w: %w", errCheckpoint, err)
	}
	size := fi.Size()
	if size < ckptHeaderSize+ckptTrailerSize || size > math.MaxInt-1 {
		return fmt.Errorf("%w: %d bytes is too short", errCheckpoint, size)
	}
	data, err := syscall.Mmap(int(f.Fd()), 0, int(size), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return fmt.Errorf("%w: map: %w", errCheckpoint, err)
	}
	parts, err := e.parseCheckpoint(data)
	if err != nil {
		syscall.Munmap(data)
		return fmt.Errorf("%w: %s: %w", errCheckpoint, e.checkpointPath(), err)
	}
	e.mappings = append(e.mappings, data)
	for tenant, part := range parts {
		part.useMapped()
		part.savedGraph, part.savedIndexed = part.graph, part.indexed
		e.tenants[tenant] = part
	}
	return nil
}

// useMapped points each live point the graph covers at its slot's vector
// (the checkpoint's, equal to the bit), so that the copy decoded from the
// log can go.
func (part *partition) useMapped() {
	for s := range part.indexed {
		if p := part.slots[s]; p != nil {
			p.Dense = part.vecs[s]
		}
	}
}

// parseCheckpoint checks a mapped checkpoint and builds, for each of its
// partitions whose tenant the replay holds, the partition laid out in
// the checkpoint's slot order with its graph. It changes nothing: an
// error leaves the replayed state as it was.
func (e *Embedded) parseCheckpoint(data []byte) (_ map[uuid.UUID]*partition, err error) {
	defer func() {
		// The checks below should leave no index out of range; should one
		// slip, the checkpoint is not used rather than the server lost.
		if r := recover(); r != nil {
			err = fmt.Errorf("unreadable: %v", r)
		}
	}()
	le := binary.LittleEndian
	if string(data[:8]) != checkpointMagic || string(data[len(data)-8:]) != checkpointMagic {
		return nil, errors.New("not a graph checkpoint")
	}
	if v := le.Uint32(data[8:]); v != checkpointVersion {
		return nil, fmt.Errorf("version %d, this ragd reads %d", v, checkpointVersion)
	}
	dims := int(le.Uint32(data[12:]))
	if dims != e.dims {
		return nil, fmt.Errorf("%d dimensions, the log's are %d", dims, e.dims)
	}
	tr := data[len(data)-ckptTrailerSize:]
	tableOff, count, sum := le.Uint64(tr), uint64(le.Uint32(tr[8:])), le.Uint32(tr[12:])
	end := uint64(len(data) - ckptTrailerSize)
	if tableOff > end || (end-tableOff) != count*ckptEntrySize {
		return nil, errors.New("bad partition table")
	}
	// The checksum covers the header, each partition's meta (with the
	// padding before it) and codes, and the table, in file order.
	crc := crc32.Update(0, crcTable, data[:ckptHeaderSize])
	var ents []ckptEntry
	prev := uint64(ckptHeaderSize)
	for i := range count {
		b := data[tableOff+i*ckptEntrySize:]
		ent := ckptEntry{slots: le.Uint32(b[16:]), entry: int32(le.Uint32(b[20:])), maxLevel: le.Uint32(b[24:]), dims: uint32(dims),
			metaOff: le.Uint64(b[32:]), metaLen: le.Uint64(b[40:]), codesOff: le.Uint64(b[48:]), vecsOff: le.Uint64(b[56:])}
		copy(ent.tenant[:], b[:16])
		n, d := uint64(ent.slots), uint64(dims)
		if d == 0 || n > uint64(len(data))/d/4 {
			return nil, fmt.Errorf("partition %d: %d slots do not fit", i, n)
		}
		if ent.metaOff < prev || ent.metaOff > end || ent.metaLen > end || ent.codesOff > end || ent.vecsOff > end ||
			ent.metaOff+ent.metaLen > ent.codesOff ||
			ent.codesOff%64 != 0 || ent.codesOff+n*d > ent.vecsOff || ent.vecsOff%64 != 0 ||
			ent.vecsOff+4*n*d > tableOff {
			return nil, fmt.Errorf("partition %d: bad offsets", i)
		}
		crc = crc32.Update(crc, crcTable, data[prev:ent.metaOff+ent.metaLen])
		crc = crc32.Update(crc, crcTable, data[ent.metaOff+ent.metaLen:ent.codesOff])
		crc = crc32.Update(crc, crcTable, data[ent.codesOff:ent.codesOff+n*d])
		crc = crc32.Update(crc, crcTable, data[ent.codesOff+n*d:ent.vecsOff])
		prev = ent.vecsOff + 4*n*d
		ents = append(ents, ent)
	}
	if prev > tableOff {
		return nil, errors.New("bad offsets")
	}
	crc = crc32.Update(crc, crcTable, data[tableOff:end])
	if crc != sum {
		return nil, errors.New("checksum mismatch")
	}
	out := map[uuid.UUID]*partition{}
	for _, ent := range ents {
		old := e.tenants[ent.tenant]
		if old == nil || out[ent.tenant] != nil {
			continue
		}
		part, err := ent.partition(data, old)
		if err != nil {
			return nil, fmt.Errorf("tenant %s: %w", ent.tenant, err)
		}
		if part != nil {
			out[ent.tenant] = part
		}
	}
	return out, nil
}

// partition lays old's points out in the entry's slot order with the
// saved graph; points the checkpoint does not hold (or holds with another
// vector) follow, to be linked by the background build. nil when fewer
// than half of the saved slots still hold their point: a rebuild then
// costs little more than linking what changed.
func (ent ckptEntry) partition(data []byte, old *partition) (*partition, error) {
	le := binary.LittleEndian
	n, dims := int(ent.slots), int(ent.dims)
	if n == 0 || ent.entry < 0 || int(ent.entry) >= n || ent.maxLevel >= ckptMaxLevel {
		return nil, errors.New("bad entry point")
	}
	meta := data[ent.metaOff : ent.metaOff+ent.metaLen]
	if len(meta) < 20*n {
		return nil, errors.New("short meta")
	}
	ids, scales, links := meta[:16*n], meta[16*n:20*n], meta[20*n:]
	g := newHNSW()
	g.entry, g.maxLevel = ent.entry, int(ent.maxLevel)
	g.nodes = make([]hnswNode, n)
	g.codes = make([][]int8, n)
	g.scales = make([]float32, n)
	for s := range n {
		if len(links) < 1 {
			return nil, errors.New("short links")
		}
		levels := int(links[0])
		links = links[1:]
		if levels > ckptMaxLevel || (s == int(ent.entry) && levels != g.maxLevel+1) {
			return nil, fmt.Errorf("slot %d: bad level", s)
		}
		if levels > 0 {
			g.nodes[s].links = make([][]int32, levels)
		}
		for l := range levels {
			if len(links) < 2 {
				return nil, errors.New("short links")
			}
			c := int(le.Uint16(links))
			links = links[2:]
			if c > 2*hnswM || len(links) < 4*c {
				return nil, fmt.Errorf("slot %d: bad links", s)
			}
			ls := make([]int32, c)
			for j := range ls {
				id := le.Uint32(links[4*j:])
				if id >= uint32(n) {
					return nil, fmt.Errorf("slot %d: link to slot %d of %d", s, id, n)
				}
				ls[j] = int32(id)
			}
			g.nodes[s].links[l] = ls
			links = links[4*c:]
		}
		g.scales[s] = math.Float32frombits(le.Uint32(scales[4*s:]))
		g.codes[s] = unsafe.Slice((*int8)(unsafe.Pointer(&data[ent.codesOff+uint64(s*dims)])), dims)
	}
	if len(links) != 0 {
		return nil, errors.New("trailing bytes in the links")
	}
	part := newPartition()
	part.slots = make([]*Point, 0, len(old.slots))
	part.vecs = make([][]float32, 0, len(old.slots))
	placed := make(map[uuid.UUID]bool, n)
	live := 0
	for s := range n {
		vec := unsafe.Slice((*float32)(unsafe.Pointer(&data[ent.vecsOff+uint64(4*s*dims)])), dims)
		var id uuid.UUID
		copy(id[:], ids[16*s:])
		p := old.points[id]
		if p != nil && !placed[id] && bytes.Equal(float32Bytes(p.Dense), float32Bytes(vec)) {
			placed[id] = true
			part.insert(p)
			// The mapping's copy; the point's own (on the heap) is swapped
			// for it by useMapped once every partition has been read.
			part.vecs[len(part.vecs)-1] = vec
			live++
			continue
		}
		// A tombstone: the graph walks through its code.
		part.slots = append(part.slots, nil)
		part.vecs = append(part.vecs, vec)
		part.dead++
	}
	if live < n/2 {
		return nil, nil
	}
	for _, p := range old.slots {
		if p != nil && !placed[p.ID] {
			part.insert(p)
		}
	}
	g.vecs = part.vecs[:n]
	g.locks = make([]sync.Mutex, len(part.vecs))
	part.graph, part.indexed = g, n
	return part, nil
}

// CheckpointError says why the graph checkpoint was not used when the
// store opened (the graphs were then rebuilt), or why the last attempt
// to save one failed; nil when neither happened.
func (e *Embedded) CheckpointError() error {
	e.ckptMu.Lock()
	defer e.ckptMu.Unlock()
	return e.ckptErr
}
