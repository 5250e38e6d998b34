package chunker

import (
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/tiktoken-go/tokenizer/codec"
)

// The library is slow on long runs and under the race detector (a minute
// of CPU for the texts below), so what it answers for the tests' fixed
// texts is recorded in testdata/library.golden: each text's token count
// and the SHA-256 of its offsets. A run without the race detector asks the
// library again and fails when the record is stale; with it, BPE is
// compared with the record. go test ./chunker -run Library -update
// writes the record again from the library.

var update = flag.Bool("update", false, "record the library's answers for the fixed texts in testdata/library.golden")

const goldenFile = "testdata/library.golden"

// libraryAnswer is what the library answers for one text.
type libraryAnswer struct {
	count  int
	digest string
}

func answerOf(offs []int32, count int) libraryAnswer {
	h := sha256.New()
	for _, o := range offs {
		_ = binary.Write(h, binary.LittleEndian, o)
	}
	return libraryAnswer{count: count, digest: hex.EncodeToString(h.Sum(nil))}
}

var golden struct {
	once    sync.Once
	mu      sync.Mutex
	answers map[string]libraryAnswer
	err     error
	updated bool
}

func readGolden(t testing.TB) map[string]libraryAnswer {
	t.Helper()
	golden.once.Do(func() {
		golden.answers = map[string]libraryAnswer{}
		f, err := os.Open(goldenFile)
		if os.IsNotExist(err) && *update {
			return
		}
		if err != nil {
			golden.err = err
			return
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fields := strings.Split(sc.Text(), "\t")
			if len(fields) != 3 {
				golden.err = fmt.Errorf("%s: bad line %q", goldenFile, sc.Text())
				return
			}
			n, err := strconv.Atoi(fields[1])
			if err != nil {
				golden.err = err
				return
			}
			golden.answers[fields[0]] = libraryAnswer{count: n, digest: fields[2]}
		}
		golden.err = sc.Err()
	})
	if golden.err != nil {
		t.Fatal(golden.err)
	}
	return golden.answers
}

// checkRecorded fails unless BPE counts and cuts s as the library does:
// compared with the library itself without the race detector (and the
// record checked), with the record under it. name is the text's key in
// the record: it must say which text it is.
func checkRecorded(t testing.TB, b *BPE, name, s string) {
	t.Helper()
	answers := readGolden(t)
	golden.mu.Lock()
	want, recorded := answers[name]
	golden.mu.Unlock()
	if !raceEnabled || *update || !recorded {
		l := sharedLibrary()
		checkExact(t, b, l, name, s)
		n, _ := l.Count(s)
		got := answerOf(libraryOffsets(t, l, s), n)
		golden.mu.Lock()
		defer golden.mu.Unlock()
		switch {
		case *update:
			answers[name], golden.updated = got, true
		case !recorded:
			t.Fatalf("%s: no record of the library's answer in %s; run go test ./chunker -run Library -update", name, goldenFile)
		case got != want:
			t.Fatalf("%s: the library's answer changed since %s was recorded; run go test ./chunker -run Library -update", name, goldenFile)
		}
		return
	}
	if got := answerOf(b.Offsets(nil, s), b.Count(s)); got != want {
		t.Fatalf("%s: BPE's offsets or count (%d) differ from the library's recorded in %s (%d); run without -race to see where",
			name, got.count, goldenFile, want.count)
	}
}

var libOnce = sync.OnceValue(library)

// sharedLibrary is the library's codec, made once (it is safe for
// concurrent use).
func sharedLibrary() *codec.Codec { return libOnce() }

// TestMain writes the record after the tests, with -update.
func TestMain(m *testing.M) {
	code := m.Run()
	if *update && golden.updated {
		names := make([]string, 0, len(golden.answers))
		for k := range golden.answers {
			names = append(names, k)
		}
		slices.Sort(names)
		var b strings.Builder
		for _, k := range names {
			a := golden.answers[k]
			fmt.Fprintf(&b, "%s\t%d\t%s\n", k, a.count, a.digest)
		}
		if err := os.WriteFile(goldenFile, []byte(b.String()), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
	os.Exit(code)
}
