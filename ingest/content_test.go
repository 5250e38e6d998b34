package ingest_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ragd/ragd"
	"github.com/ragd/ragd/agents"
	"github.com/ragd/ragd/extract"
	"github.com/ragd/ragd/extract/extracttest"
	"github.com/ragd/ragd/ingest"
	"github.com/ragd/ragd/ingest/ingesttest"
	"github.com/ragd/ragd/jobs"
	"github.com/ragd/ragd/postgres/pgtest"
	"github.com/ragd/ragd/secret"
)

// randomBytes returns n reproducible bytes that do not compress.
func randomBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func TestSpool(t *testing.T) {
	t.Parallel()

	t.Run("HashesAndSizesWhatArrives", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		data := randomBytes(3<<20+7, 1)
		s, err := ingest.NewSpool(dir, bytes.NewReader(data), int64(len(data)))
		if err != nil {
			t.Fatal(err)
		}
		if s.Size() != int64(len(data)) || s.SHA256() != sha256.Sum256(data) {
			t.Fatalf("size %d, sha %x; want %d, %x", s.Size(), s.SHA256(), len(data), sha256.Sum256(data))
		}
		for _, off := range []int64{0, 1, 1 << 20, int64(len(data)) - 10} {
			buf := make([]byte, 10)
			if n, err := s.ReadAt(buf, off); n != 10 || (err != nil && err != io.EOF) || !bytes.Equal(buf, data[off:off+10]) {
				t.Fatalf("ReadAt(%d) = %d, %v", off, n, err)
			}
		}
		if n, err := s.ReadAt(make([]byte, 20), int64(len(data))-10); n != 10 || err != io.EOF {
			t.Fatalf("ReadAt over the end = %d, %v; want 10, EOF", n, err)
		}
		if got, _ := io.ReadAll(io.NewSectionReader(s, 0, s.Size())); !bytes.Equal(got, data) {
			t.Fatal("the spool reads back other bytes")
		}
		// The file has no name while open, and is gone once closed.
		if open := ingesttest.OpenFiles(t, dir); len(open) != 1 || !strings.HasSuffix(open[0], "(deleted)") {
			t.Fatalf("open spool files = %v, want one, deleted", open)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		ingesttest.NoFilesLeft(t, dir)
		if err := s.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
	})

	t.Run("RefusesMoreThanTheLimit", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		data := randomBytes(100_000, 2)
		s, err := ingest.NewSpool(dir, bytes.NewReader(data), int64(len(data)))
		if err != nil {
			t.Fatalf("exactly the limit: %v", err)
		}
		s.Close()
		if _, err := ingest.NewSpool(dir, bytes.NewReader(data), int64(len(data))-1); !errors.Is(err, ingest.ErrTooLarge) {
			t.Fatalf("one byte over the limit: %v, want ErrTooLarge", err)
		}
		ingesttest.NoFilesLeft(t, dir)
	})

	t.Run("ReadErrorLeavesNothing", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		broken := errors.New("connection reset")
		r := io.MultiReader(bytes.NewReader(randomBytes(200_000, 3)), &failingReader{broken})
		if _, err := ingest.NewSpool(dir, r, 1<<20); !errors.Is(err, broken) {
			t.Fatalf("err = %v, want the reader's", err)
		}
		ingesttest.NoFilesLeft(t, dir)
	})
}

type failingReader struct{ err error }

func (r *failingReader) Read([]byte) (int, error) { return 0, r.err }

// countingReaderAt counts the bytes read through it.
type countingReaderAt struct {
	r io.ReaderAt
	n int64
}

func (c *countingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	c.n += int64(n)
	return n, err
}

func TestDetectReadsOnlyTheHeadAndTheZipDirectory(t *testing.T) {
	t.Parallel()
	big := string(randomBytes(4<<20, 4))
	text := bytes.Repeat([]byte("Plain words on a line.\n"), 200_000)
	for _, tc := range []struct {
		name string
		data []byte
		want extract.Type
	}{
		{"DOCXWithALargeImage", extracttest.MakeDOCX(extracttest.WPara("", "x"), extracttest.DOCXPart{Name: "word/media/image1.bin", Body: big}), extract.TypeDOCX},
		{"LongText", text, extract.TypeText},
	} {
		c := &countingReaderAt{r: bytes.NewReader(tc.data)}
		typ, ok := extract.Detect(c, int64(len(tc.data)), "file")
		if !ok || typ != tc.want {
			t.Fatalf("%s: Detect = %q, %v", tc.name, typ, ok)
		}
		if c.n > 64<<10 {
			t.Errorf("%s: Detect read %d of %d bytes", tc.name, c.n, len(tc.data))
		}
	}
}

type contentBundle struct {
	pool   *pgxpool.Pool
	store  *ingest.Documents
	queue  *jobs.Queue
	tenant uuid.UUID
}

func setupContent(t *testing.T) *contentBundle {
	t.Helper()
	pool := pgtest.NewPool(t)
	st := newStack(t, pool, nil)
	return &contentBundle{pool: pool, store: st.docs, queue: st.queue, tenant: newTenant(t, pool).ID}
}

func (b *contentBundle) create(t *testing.T, c ingest.Content) ingest.Document {
	t.Helper()
	created, err := b.store.Create(t.Context(), b.tenant, ingest.Upload{Filename: "f.txt", Content: c, Type: extract.TypeText}, ingest.CreateOptions{AllowDuplicate: true})
	if err != nil {
		t.Fatal(err)
	}
	return created.Document
}

func TestStoreContent(t *testing.T) {
	t.Parallel()

	t.Run("RoundTripsInParts", func(t *testing.T) {
		t.Parallel()
		b := setupContent(t)
		for _, size := range []int{1, ingest.BlobPartSize - 1, ingest.BlobPartSize, ingest.BlobPartSize + 1, 2*ingest.BlobPartSize + 12345} {
			data := randomBytes(size, uint64(size))
			d := b.create(t, ingest.BytesContent(data))
			if d.SizeBytes != int64(size) || d.SHA256 != hexSum(data) {
				t.Fatalf("size %d: document says %d bytes, sha %s", size, d.SizeBytes, d.SHA256)
			}
			var parts, full int
			if err := b.pool.QueryRow(t.Context(), "SELECT count(*), count(*) FILTER (WHERE length(content) = $2) FROM document_blob_parts WHERE document_id = $1",
				d.ID, ingest.BlobPartSize).Scan(&parts, &full); err != nil {
				t.Fatal(err)
			}
			if want := (size + ingest.BlobPartSize - 1) / ingest.BlobPartSize; parts != want || full != size/ingest.BlobPartSize {
				t.Fatalf("size %d: %d parts (%d full), want %d (%d full)", size, parts, full, want, size/ingest.BlobPartSize)
			}
			got, n := readContent(t, b.store, b.tenant, d.ID)
			if n != int64(size) || !bytes.Equal(got, data) {
				t.Fatalf("size %d: read back %d bytes (size %d), equal %t", size, len(got), n, bytes.Equal(got, data))
			}
		}
	})

	t.Run("FromASpool", func(t *testing.T) {
		t.Parallel()
		b := setupContent(t)
		dir := t.TempDir()
		data := randomBytes(ingest.BlobPartSize*3/2, 9)
		s, err := ingest.NewSpool(dir, bytes.NewReader(data), 1<<30)
		if err != nil {
			t.Fatal(err)
		}
		d := b.create(t, s)
		s.Close()
		if got, _ := readContent(t, b.store, b.tenant, d.ID); !bytes.Equal(got, data) || d.SHA256 != hexSum(data) {
			t.Fatal("a spooled upload reads back other bytes")
		}
		ingesttest.NoFilesLeft(t, dir)
	})

	t.Run("ReadsOnePartAtATime", func(t *testing.T) {
		t.Parallel()
		b := setupContent(t)
		data := randomBytes(3*ingest.BlobPartSize, 5)
		d := b.create(t, ingest.BytesContent(data))
		_, r, _, err := b.store.OpenContent(t.Context(), b.tenant, d.ID)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		first := make([]byte, ingest.BlobPartSize)
		if _, err := io.ReadFull(r, first); err != nil || !bytes.Equal(first, data[:ingest.BlobPartSize]) {
			t.Fatalf("first part: %v", err)
		}
		// Parts not yet read are fetched when they are needed, so their
		// loss shows, as a short read rather than a clean end.
		if _, err := b.pool.Exec(t.Context(), "DELETE FROM document_blob_parts WHERE document_id = $1 AND seq > 0", d.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadAll(r); !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("reading past the missing parts: %v, want io.ErrUnexpectedEOF", err)
		}
	})

	t.Run("OtherTenantsDocumentIsNotFound", func(t *testing.T) {
		t.Parallel()
		b := setupContent(t)
		d := b.create(t, ingest.BytesContent([]byte("tenant A's file")))
		box, _ := secret.NewBox(secret.NewKey())
		tn, err := agents.NewControlPlane(b.pool, box, nil).CreateTenant(t.Context(), agents.TenantPatch{Name: ragd.Some("Other")})
		if err != nil {
			t.Fatal(err)
		}
		other := tn.ID
		if _, _, _, err := b.store.OpenContent(t.Context(), other, d.ID); !errors.Is(err, ragd.ErrNotFound) {
			t.Fatalf("OpenContent for another tenant: %v, want ErrNotFound", err)
		}
	})

	t.Run("PurgeRemovesTheParts", func(t *testing.T) {
		t.Parallel()
		b := setupContent(t)
		d := b.create(t, ingest.BytesContent(randomBytes(ingest.BlobPartSize+1, 6)))
		if err := b.store.Purge(t.Context(), b.tenant, d.ID); err != nil {
			t.Fatal(err)
		}
		var n int
		if err := b.pool.QueryRow(t.Context(), "SELECT count(*) FROM document_blob_parts").Scan(&n); err != nil || n != 0 {
			t.Fatalf("%d parts left after purge (%v)", n, err)
		}
	})
}

func readContent(t *testing.T, s *ingest.Documents, tenant, id uuid.UUID) ([]byte, int64) {
	t.Helper()
	_, r, size, err := s.OpenContent(t.Context(), tenant, id)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var buf bytes.Buffer
	if _, err := io.Copy(&buf, r); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), size
}

func hexSum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
