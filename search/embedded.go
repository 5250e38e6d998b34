package search

import (
	"bufio"
	"cmp"
	"container/heap"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/google/uuid"
)

// Embedded is the vector store used when no Qdrant is configured: search
// in memory, one indexed partition per tenant (see partition), persisted
// as an append-only log of checksummed records under a directory. At
// start the state comes from the checkpoint beside the log (points,
// vectors and graphs as of a point in the log: checkpoint.go) and only
// the log written after it is replayed; without a usable checkpoint the
// whole log is. Points the graphs do not cover yet are linked in the
// background while the store serves, dense queries scanning them.
//
// Durability: Upsert and the deletes return only after their records are
// written and fsynced. At start the log is replayed up to the first record
// that is short or fails its checksum (a write torn by a crash, which was
// never acknowledged) and cut there. When the log holds much more than the
// live points, it is rewritten to a new file that replaces it atomically.
//
// One process at a time: the directory is locked, and a second process
// fails to open it with ErrInUse.
type Embedded struct {
	mu      sync.RWMutex // guards the in-memory state below
	dir     string
	lock    *os.File
	dims    int
	tenants map[uuid.UUID]*partition
	closed  bool
	built   chan struct{} // closed when the graphs left after the replay are built
	// mappings are the checkpoints mapped into memory (see
	// checkpoint.go), unmapped at Close; ckptErr is why the checkpoint
	// was not used at the open, or why saving one last failed.
	mappings [][]byte
	ckptMu   sync.Mutex
	ckptErr  error
	// check is the check of the loaded checkpoint's vectors that runs
	// after the open (nil if none: see vectorCheck), checked how long it
	// took; ckptBlock is the span of a checksum in the checkpoints this
	// store writes (0: ckptBlock; tests set it).
	check     *vectorCheck
	checked   time.Duration
	ckptBlock uint64
	// bg counts the goroutines an open starts (buildIndexes,
	// checkVectors), which Close waits for.
	bg sync.WaitGroup
	// logID is the log's id (its first record: see logMarker) and applied
	// the length of the log the in-memory state holds; savedLog and
	// savedApplied are the same for the checkpoint last saved or loaded.
	// replayed counts the records replayed at the open and loadErr is
	// why the checkpoint was not used then (for tests: a save clears
	// ckptErr).
	logID, savedLog       uuid.UUID
	applied, savedApplied int64
	replayed              int
	loadErr               error

	// Writes are committed in groups: a writer queues its records, and
	// whoever holds wmu writes everything queued with one fsync, then
	// applies it in log order. Searches wait only for the apply, never
	// for the disk. log and logBytes belong to wmu's holder.
	wmu      sync.Mutex
	qmu      sync.Mutex
	queue    []*pendingWrite
	log      *os.File
	logBytes int64
	syncs    atomic.Int64 // fsyncs of the log, for tests
}

// pendingWrite is one writer's records, waiting for a group commit.
type pendingWrite struct {
	recs  []byte
	apply func() // called with mu held, after the records are durable
	done  chan error
}

// Record kinds in the log.
const (
	recSchema       byte = 1
	recUpsert       byte = 2
	recDeleteDoc    byte = 3
	recDeleteTenant byte = 4
)

// OpenEmbedded opens (or creates) the store in dir.
func OpenEmbedded(dir string) (*Embedded, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("vector store: %w", err)
	}
	lock, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("vector store: %w", err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		lock.Close()
		return nil, fmt.Errorf("vector store %s: %w: the embedded store serves one process (run the workers inside ragd serve, or use Qdrant)", dir, ErrInUse)
	}
	e := &Embedded{dir: dir, lock: lock, tenants: map[uuid.UUID]*partition{}}
	if err := e.load(); err != nil {
		lock.Close()
		return nil, err
	}
	return e, nil
}

func (e *Embedded) logPath() string { return filepath.Join(e.dir, "points.log") }

// load reads the checkpoint, replays the log after it (all of it
// without one) and cuts off a torn tail.
func (e *Embedded) load() error {
	f, err := os.OpenFile(e.logPath(), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return fmt.Errorf("vector store: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("vector store: %w", err)
	}
	logID := readLogID(f, fi.Size())
	var good int64
	if logID != uuid.Nil {
		good, err = e.loadCheckpoint(logID, fi.Size())
		e.loadErr = err
		e.setCheckpointError(err)
	}
	if _, err := f.Seek(good, io.SeekStart); err != nil {
		f.Close()
		return fmt.Errorf("vector store: %w", err)
	}
	r := bufio.NewReaderSize(f, 1<<20)
	for {
		kind, body, n, err := readRecord(r)
		if err != nil {
			break // io.EOF, or a torn or corrupt tail
		}
		if err := e.apply(kind, body); err != nil {
			break
		}
		good += n
		e.replayed++
	}
	// What the graphs do not cover is linked after the replay, in the
	// background (buildIndexes): the store serves at once, dense queries
	// scanning the slots not linked yet.
	for _, part := range e.tenants {
		if part.graph == nil {
			part.building = len(part.points) >= annMinPoints
		} else {
			part.building = part.indexed < len(part.slots)
		}
	}
	if err := f.Truncate(good); err != nil {
		f.Close()
		return fmt.Errorf("vector store: cut torn tail: %w", err)
	}
	if _, err := f.Seek(good, io.SeekStart); err != nil {
		f.Close()
		return err
	}
	e.log, e.logBytes, e.logID, e.applied = f, good, logID, good
	if logID == uuid.Nil {
		// A new log, or one written before logs had ids: give it one (an
		// older log is rewritten once, as compaction does).
		if err := e.newLogID(); err != nil {
			f.Close()
			return err
		}
	}
	e.built = make(chan struct{})
	e.bg.Add(1)
	go e.buildIndexes()
	if e.check != nil {
		e.bg.Add(1)
		go e.checkVectors()
	}
	if len(e.mappings) > 0 {
		e.bg.Add(1)
		go e.moveCodes()
	}
	return nil
}

// logMarker is the first record of every log: a tenant delete that names
// no tenant (so that a ragd from before log ids replays it as a no-op)
// and carries the log's id, which the checkpoint names.
func logMarker(id uuid.UUID) []byte {
	body, _ := json.Marshal(deleteRecord{Log: id})
	return appendRecord(nil, recDeleteTenant, body)
}

// readLogID returns the id in the log's first record; uuid.Nil if it has
// none.
func readLogID(f *os.File, size int64) uuid.UUID {
	kind, body, _, err := readRecord(bufio.NewReader(io.NewSectionReader(f, 0, min(size, 4096))))
	if err != nil || kind != recDeleteTenant {
		return uuid.Nil
	}
	var d deleteRecord
	if json.Unmarshal(body, &d) != nil || d.Tenant != uuid.Nil {
		return uuid.Nil
	}
	return d.Log
}

// newLogID starts an empty log with its marker, or rewrites a log
// without one. Called by load, before the store serves.
func (e *Embedded) newLogID() error {
	if e.logBytes > 0 {
		return e.compact()
	}
	id := uuid.New()
	rec := logMarker(id)
	if _, err := e.log.Write(rec); err != nil {
		return fmt.Errorf("vector store: %w", err)
	}
	if err := e.log.Sync(); err != nil {
		return fmt.Errorf("vector store: %w", err)
	}
	e.logBytes, e.logID, e.applied = int64(len(rec)), id, int64(len(rec))
	return nil
}

// buildStep is how many points the background build links into a graph
// per hold of the write lock (tens of milliseconds at 100k points: the
// longest a write or search waits for it).
const buildStep = 64

// buildIndexes builds the graphs of the partitions marked building, a
// step at a time under the write lock, until they are done or the store
// is closed; then, if it built anything or the open replayed much of the
// log, it saves a checkpoint (under the read lock: searches go on,
// writes wait), after the check of the loaded checkpoint's vectors if
// one runs (the store is indexed before that: see WaitIndexed).
func (e *Embedded) buildIndexes() {
	defer e.bg.Done()
	built := false
	for {
		e.mu.Lock()
		var part *partition
		for _, p := range e.tenants {
			if p.building {
				part = p
				break
			}
		}
		if e.closed || part == nil {
			e.mu.Unlock()
			break
		}
		part.buildSome(buildStep)
		built = true
		e.mu.Unlock()
	}
	if e.check != nil {
		close(e.built)
		<-e.check.done
		e.saveBuilt(built)
		return
	}
	e.saveBuilt(built)
	close(e.built)
}

// saveBuilt saves a checkpoint after the background build if it built
// anything, or when the open had no checkpoint of this log or replayed
// much beyond it; a short tail waits for Close.
func (e *Embedded) saveBuilt(built bool) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if !e.closed && e.vectorsTrusted() && e.checkpointStale() && (built || e.savedLog != e.logID || e.applied-e.savedApplied > checkpointTail) {
		e.setCheckpointError(e.saveCheckpoint())
	}
}

// WaitIndexed waits until the graphs the store builds after it opens are
// built (queries are exact until then), or ctx is done.
func (e *Embedded) WaitIndexed(ctx context.Context) error {
	select {
	case <-e.built:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// A record is: length of body (uint32), CRC-32C of kind+body (uint32),
// kind (1 byte), body.
var crcTable = crc32.MakeTable(crc32.Castagnoli)

func appendRecord(buf []byte, kind byte, body []byte) []byte {
	var hdr [9]byte
	binary.LittleEndian.PutUint32(hdr[0:4], uint32(len(body)))
	crc := crc32.Update(crc32.Update(0, crcTable, []byte{kind}), crcTable, body)
	binary.LittleEndian.PutUint32(hdr[4:8], crc)
	hdr[8] = kind
	return append(append(buf, hdr[:]...), body...)
}

func readRecord(r *bufio.Reader) (byte, []byte, int64, error) {
	var hdr [9]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, nil, 0, err
	}
	n := binary.LittleEndian.Uint32(hdr[0:4])
	if n > 1<<30 {
		return 0, nil, 0, errors.New("record too large")
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return 0, nil, 0, err
	}
	crc := crc32.Update(crc32.Update(0, crcTable, hdr[8:9]), crcTable, body)
	if crc != binary.LittleEndian.Uint32(hdr[4:8]) {
		return 0, nil, 0, errors.New("checksum mismatch")
	}
	return hdr[8], body, int64(9 + n), nil
}

// Point bodies: JSON of the point without its dense vector, then the
// vector as little-endian float32s; the JSON's length comes first.
func encodePoint(p Point) ([]byte, error) {
	dense := p.Dense
	p.Dense = nil
	js, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	b := binary.LittleEndian.AppendUint32(nil, uint32(len(js)))
	b = append(b, js...)
	for _, x := range dense {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(x))
	}
	return b, nil
}

func decodePoint(b []byte) (Point, error) {
	var p Point
	if len(b) < 4 {
		return p, errors.New("short point")
	}
	n := int(binary.LittleEndian.Uint32(b))
	if 4+n > len(b) || (len(b)-4-n)%4 != 0 {
		return p, errors.New("bad point")
	}
	if err := json.Unmarshal(b[4:4+n], &p); err != nil {
		return p, err
	}
	rest := b[4+n:]
	p.Dense = make([]float32, len(rest)/4)
	for i := range p.Dense {
		p.Dense[i] = math.Float32frombits(binary.LittleEndian.Uint32(rest[4*i:]))
	}
	return p, nil
}

// apply changes the in-memory state for one record.
func (e *Embedded) apply(kind byte, body []byte) error {
	switch kind {
	case recSchema:
		if len(body) != 4 {
			return errors.New("bad schema record")
		}
		e.dims = int(binary.LittleEndian.Uint32(body))
	case recUpsert:
		p, err := decodePoint(body)
		if err != nil {
			return err
		}
		e.put(p)
	case recDeleteDoc, recDeleteTenant:
		var d deleteRecord
		if err := json.Unmarshal(body, &d); err != nil {
			return err
		}
		if d.Log != uuid.Nil {
			return nil // the log's marker
		}
		if kind == recDeleteTenant {
			delete(e.tenants, d.Tenant)
			return nil
		}
		if part := e.tenants[d.Tenant]; part != nil {
			for id, p := range part.docs[d.Document] {
				if d.match(p) {
					part.remove(id)
				}
			}
		}
	default:
		return fmt.Errorf("unknown record kind %d", kind)
	}
	return nil
}

func (e *Embedded) put(p Point) {
	part := e.tenants[p.TenantID]
	if part == nil {
		part = newPartition()
		e.tenants[p.TenantID] = part
	}
	part.put(&p)
}

func normalize(v []float32) {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	if s == 0 {
		return
	}
	inv := float32(1 / math.Sqrt(s))
	for i := range v {
		v[i] *= inv
	}
}

// write appends records, fsyncs, then applies them: nothing is visible
// (or acknowledged) before it is durable. Concurrent writes share one
// fsync (see Embedded); each returns the error of the group it was in.
func (e *Embedded) write(recs []byte, apply func()) error {
	w := &pendingWrite{recs: recs, apply: apply, done: make(chan error, 1)}
	e.qmu.Lock()
	e.queue = append(e.queue, w)
	e.qmu.Unlock()
	e.wmu.Lock()
	defer e.wmu.Unlock()
	select {
	case err := <-w.done: // the holder before us committed it
		return err
	default:
	}
	e.qmu.Lock()
	group := e.queue
	e.queue = nil
	e.qmu.Unlock()
	err := e.commit(group)
	for _, g := range group {
		g.done <- err
	}
	return <-w.done
}

// commit writes a group's records with one fsync and applies them in
// order. Called with wmu held.
func (e *Embedded) commit(group []*pendingWrite) error {
	var recs []byte
	if len(group) == 1 {
		recs = group[0].recs
	} else {
		for _, g := range group {
			recs = append(recs, g.recs...)
		}
	}
	_, err := e.log.Write(recs)
	if err == nil {
		err = e.log.Sync()
		e.syncs.Add(1)
	}
	if err != nil {
		// Cut off what may have been written, so that later records do not
		// land behind a broken one (replay stops at the first).
		_ = e.log.Truncate(e.logBytes)
		_, _ = e.log.Seek(e.logBytes, io.SeekStart)
		return fmt.Errorf("vector store: write: %w", err)
	}
	e.logBytes += int64(len(recs))
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, g := range group {
		g.apply()
	}
	e.applied = e.logBytes
	return e.maybeCompact()
}

// EnsureSchema implements Store.
func (e *Embedded) EnsureSchema(ctx context.Context, dims int) error {
	// Holding wmu, no other write can change dims between the check and
	// the commit.
	e.wmu.Lock()
	defer e.wmu.Unlock()
	e.mu.RLock()
	have := e.dims
	e.mu.RUnlock()
	if have == dims {
		return nil
	}
	if have != 0 {
		return fmt.Errorf("%w: the embedded store in %s holds %d-dimensional vectors, the embedder makes %d; run ragd reindex after moving the store away", ErrDimensions, e.dir, have, dims)
	}
	if dims < 1 {
		return fmt.Errorf("%w: %d", ErrDimensions, dims)
	}
	rec := appendRecord(nil, recSchema, binary.LittleEndian.AppendUint32(nil, uint32(dims)))
	return e.commit([]*pendingWrite{{recs: rec, apply: func() { e.dims = dims }}})
}

// Upsert implements Store.
func (e *Embedded) Upsert(ctx context.Context, tenantID uuid.UUID, points []Point) error {
	e.mu.RLock()
	dims := e.dims // set once, by EnsureSchema
	e.mu.RUnlock()
	if dims == 0 {
		return errors.New("vector store: EnsureSchema first")
	}
	if err := validatePoints(tenantID, dims, points); err != nil {
		return err
	}
	var recs []byte
	for _, p := range points {
		body, err := encodePoint(p)
		if err != nil {
			return err
		}
		recs = appendRecord(recs, recUpsert, body)
	}
	return e.write(recs, func() {
		for _, p := range points {
			p.Dense = slices.Clone(p.Dense)
			e.put(p)
		}
		if part := e.tenants[tenantID]; part != nil {
			part.index()
		}
	})
}

// DeleteDocument implements Store.
func (e *Embedded) DeleteDocument(ctx context.Context, tenantID, documentID uuid.UUID, v Versions) error {
	return e.delete(recDeleteDoc, deleteRecord{Tenant: tenantID, Document: documentID, Below: v.Below, Only: v.Only})
}

// DeleteTenant implements Store.
func (e *Embedded) DeleteTenant(ctx context.Context, tenantID uuid.UUID) error {
	return e.delete(recDeleteTenant, deleteRecord{Tenant: tenantID})
}

// deleteRecord is the body of a delete in the log. Keep (delete every
// version but Keep) is what logs before Below and Only hold; it is read,
// never written. Log is set in the log's marker only (logMarker).
type deleteRecord struct {
	Tenant, Document uuid.UUID
	Keep             int       `json:",omitempty"`
	Below, Only      int       `json:",omitempty"`
	Log              uuid.UUID `json:",omitzero"`
}

func (d deleteRecord) match(p *Point) bool {
	if p.DocumentID != d.Document {
		return false
	}
	if d.Keep != 0 {
		return p.ContentVersion != d.Keep
	}
	return Versions{Below: d.Below, Only: d.Only}.match(p.ContentVersion)
}

func (e *Embedded) delete(kind byte, d deleteRecord) error {
	body, _ := json.Marshal(d)
	if kind == recDeleteDoc && !e.holdsAny(d) {
		// Nothing to delete: no record is written. A point that a
		// concurrent Upsert is writing may land after this returns,
		// as it could if the delete had been committed first.
		return nil
	}
	return e.write(appendRecord(nil, kind, body), func() {
		_ = e.apply(kind, body)
		if part := e.tenants[d.Tenant]; part != nil {
			part.index()
		}
	})
}

// holdsAny reports whether a document delete would remove any point.
func (e *Embedded) holdsAny(d deleteRecord) bool {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if part := e.tenants[d.Tenant]; part != nil {
		for _, p := range part.docs[d.Document] {
			if d.match(p) {
				return true
			}
		}
	}
	return false
}

// Count implements Store.
func (e *Embedded) Count(ctx context.Context, tenantID uuid.UUID, f Filter) (int, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	n := 0
	if part := e.tenants[tenantID]; part != nil {
		for _, p := range part.points {
			if f.matches(p) {
				n++
			}
		}
	}
	return n, nil
}

// Query implements Store. Dense scores are cosine similarities; sparse
// scores use IDF over the tenant's partition, ln(1 + (N − n + 0.5)/(n +
// 0.5)), as Qdrant's IDF modifier does over its collection; hybrid fuses
// both with Fuse.
func (e *Embedded) Query(ctx context.Context, tenantID uuid.UUID, q Query) ([]Hit, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.closed {
		return nil, errors.New("vector store: closed")
	}
	if err := validateQuery(q, e.dims); err != nil {
		return nil, err
	}
	part := e.tenants[tenantID]
	if part == nil {
		return []Hit{}, nil
	}
	switch q.Mode {
	case ModeDense:
		return part.calibratedDense(ctx, q.Dense, q.Filter, q.TopK)
	case ModeSparse:
		return part.calibratedSparse(ctx, q.Sparse, q.Filter, q.TopK)
	}
	limit := PrefetchLimit(q.TopK)
	// The two arms run at once (each only reads the partition).
	var (
		dense, sparse []Hit
		derr, serr    error
		wg            sync.WaitGroup
	)
	wg.Go(func() { dense, derr = part.calibratedDense(ctx, q.Dense, q.Filter, limit) })
	sparse, serr = part.calibratedSparse(ctx, q.Sparse, q.Filter, limit)
	wg.Wait()
	if err := errors.Join(derr, serr); err != nil {
		return nil, err
	}
	return Fuse(q.Fusing, q.TopK, dense, sparse), nil
}

// calibratedDense is dense with each hit's Relevance set.
func (part *partition) calibratedDense(ctx context.Context, q []float32, f Filter, k int) ([]Hit, error) {
	hits, err := part.dense(ctx, q, f, k)
	calibrateDense(hits)
	return hits, err
}

// calibratedSparse is sparse with each hit's Relevance set: its score over
// the query's SparseBound with the partition's IDF.
func (part *partition) calibratedSparse(ctx context.Context, q SparseVector, f Filter, k int) ([]Hit, error) {
	hits, err := part.sparse(ctx, q, f, k)
	n := len(part.points)
	calibrateSparse(hits, SparseBound(q, func(i int) float64 { return boundIDF(n, part.df[q.Indices[i]]) }))
	return hits, err
}

func sortHits(hs []Hit) {
	slices.SortFunc(hs, func(a, b Hit) int {
		if c := cmp.Compare(b.Score, a.Score); c != 0 {
			return c
		}
		return cmp.Compare(a.ID.String(), b.ID.String())
	})
}

// dotGo is the portable dot product, four lanes at a time (the compiler
// does not vectorise; independent sums let the CPU overlap the
// multiplications).
func dotGo(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return s0 + s1 + s2 + s3
}

// hitHeap keeps the k best hits: a min-heap on score.
type hitHeap []Hit

func (h hitHeap) Len() int { return len(h) }
func (h hitHeap) Less(i, j int) bool {
	if h[i].Score != h[j].Score {
		return h[i].Score < h[j].Score
	}
	return h[i].ID.String() > h[j].ID.String()
}
func (h hitHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *hitHeap) Push(x any)   { *h = append(*h, x.(Hit)) }
func (h *hitHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

func (h *hitHeap) offer(p *Point, score float32, k int) {
	if h.Len() < k {
		heap.Push(h, hitOf(p, score))
		return
	}
	if min := (*h)[0]; score > min.Score || (score == min.Score && p.ID.String() < min.ID.String()) {
		(*h)[0] = hitOf(p, score)
		heap.Fix(h, 0)
	}
}

func hitOf(p *Point, score float32) Hit {
	hp := *p
	hp.Dense, hp.Sparse = nil, SparseVector{}
	return Hit{Point: hp, Score: score}
}

func (h *hitHeap) sorted() []Hit {
	out := slices.Clone(*h)
	sortHits(out)
	return out
}

// maybeCompact rewrites the log when it is over 64 MiB and more than twice
// what the live points need. Called with wmu and mu held.
func (e *Embedded) maybeCompact() error {
	if e.logBytes < 64<<20 || !e.vectorsTrusted() {
		return nil // not before the loaded vectors are found whole (vectorCheck)
	}
	live := 0
	for _, part := range e.tenants {
		live += len(part.points)
	}
	perPoint := int64(4*e.dims + 512)
	if e.logBytes < 2*int64(live)*perPoint {
		return nil
	}
	return e.compact()
}

// compact writes the live state to a new log and renames it over the old.
func (e *Embedded) compact() error {
	// A new log, a new id: a checkpoint of the old one is not used with it.
	id := uuid.New()
	marker := logMarker(id)
	size := int64(len(marker))
	err := replaceFile(e.logPath(), func(f *os.File) error {
		w := bufio.NewWriterSize(f, 1<<20)
		emit := func(kind byte, body []byte) error {
			rec := appendRecord(nil, kind, body)
			size += int64(len(rec))
			_, err := w.Write(rec)
			return err
		}
		if _, err := w.Write(marker); err != nil {
			return err
		}
		if err := emit(recSchema, binary.LittleEndian.AppendUint32(nil, uint32(e.dims))); err != nil {
			return err
		}
		for _, part := range e.tenants {
			for _, p := range part.points {
				body, err := encodePoint(*p)
				if err == nil {
					err = emit(recUpsert, body)
				}
				if err != nil {
					return err
				}
			}
		}
		return w.Flush()
	})
	if err != nil {
		return fmt.Errorf("vector store: compact: %w", err)
	}
	nf, err := os.OpenFile(e.logPath(), os.O_RDWR, 0o600)
	if err == nil {
		_, err = nf.Seek(size, io.SeekStart)
	}
	if err != nil {
		return fmt.Errorf("vector store: reopen after compact: %w", err)
	}
	e.log.Close()
	e.log, e.logBytes, e.logID, e.applied = nf, size, id, size
	return nil
}

// replaceFile writes path anew through a temporary file beside it: write,
// fsync, rename over path, fsync the directory, so that a crash leaves
// the old file or the new one, whole. On an error the temporary file is
// removed.
func replaceFile(path string, write func(*os.File) error) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	err = write(f)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err == nil {
		err = syncDir(filepath.Dir(path))
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Close implements Store.
func (e *Embedded) Close() error {
	e.mu.Lock()
	e.closed = true
	e.mu.Unlock()
	if e.check != nil {
		e.check.stopOnce.Do(func() { close(e.check.stop) }) // a check not done leaves the loaded checkpoint as it is
	}
	e.bg.Wait() // the background build stops after its step
	e.wmu.Lock()
	defer e.wmu.Unlock()
	e.mu.Lock()
	defer e.mu.Unlock()
	var cerr error
	if e.vectorsTrusted() && e.checkpointStale() {
		cerr = e.saveCheckpoint()
		e.setCheckpointError(cerr)
	}
	err := e.log.Close()
	for _, m := range e.mappings {
		// Nothing reads the points any more: Query refuses a closed store.
		_ = syscall.Munmap(m)
	}
	e.mappings = nil
	e.lock.Close() // releases the flock
	return errors.Join(err, cerr)
}

func (e *Embedded) setCheckpointError(err error) {
	e.ckptMu.Lock()
	defer e.ckptMu.Unlock()
	e.ckptErr = err
}
