package extract

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/md5"
	"crypto/rc4"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"fmt"
	"hash"
	"maps"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/text/unicode/norm"
)

// Encrypted PDFs (ISO 32000-2 §7.6, the standard security handler) are
// decrypted here into an unencrypted PDF, which ledongthuc/pdf then reads
// like any other. The library cannot be given a key from outside (its
// decryption is unexported), it refuses AES-256 (revisions 5 and 6), and
// the RC4 and AES-128 support it has is incomplete: 40-bit RC4 files open
// but decrypt to garbage (its per-object key is always 16 bytes, not
// n+5), an owner password is not accepted, /EncryptMetadata false and
// crypt filters other than one AESV2 for everything are refused, and
// passwords are not converted to the encodings the spec asks for. So the
// whole handler is done here, with the standard library's MD5, RC4, AES
// and SHA-2, and the library sees only plain files; its own decryption
// remains as a fallback for files whose syntax the rewriter cannot follow.
//
// The rewrite keeps every object's number and content: each object stored
// directly in the file is written again with its strings and stream data
// decrypted (object streams are decrypted as the streams they are; the
// objects inside them are not encrypted separately), cross-reference
// streams and the encryption dictionary are left out, and a new
// cross-reference section (a table, or a stream when objects live in
// object streams) and a trailer without /Encrypt end the file.

// Reasons a PDF's encryption stops the rewrite. The pipeline reports them
// as pdf_encrypted.
var (
	errPDFNeedsPassword = errors.New("the PDF needs a password to open")
	errPDFWrongPassword = errors.New("the password does not open the PDF")
	// errPDFSecurity: not the standard (password) security handler, or a
	// variant of it this reader does not know.
	errPDFSecurity = errors.New("unsupported PDF security handler")
)

// cryptMethod is how a string or stream is encrypted.
type cryptMethod int

const (
	cryptIdentity cryptMethod = iota // not encrypted
	cryptRC4
	cryptAESV2 // AES-128, per-object keys
	cryptAESV3 // AES-256, the file key
)

// pdfSecurity is an opened standard security handler: the file key and
// which method applies to what.
type pdfSecurity struct {
	key              []byte
	strings, streams cryptMethod
	filters          map[pdfName]cryptMethod // named crypt filters
	encryptMetadata  bool
	// permsOK: revision 5/6's /Perms decrypted to what the key promises.
	// A mismatch is not fatal (qpdf only warns): /U or /O already proved
	// the password, and /Perms guards only the permission flags, which
	// text extraction ignores.
	permsOK bool
}

// The password padding string of revisions 2 to 4 (Algorithm 2).
var pdfPasswordPad = []byte("\x28\xBF\x4E\x5E\x4E\x75\x8A\x41\x64\x00\x4E\x56\xFF\xFA\x01\x08" +
	"\x2E\x2E\x00\xB6\xD0\x68\x3E\x80\x2F\x0C\xA9\xFE\x64\x53\x69\x7A")

// openPDFSecurity authenticates password ("" for none) against the
// encryption dictionary enc of a file whose first /ID string is id, as the
// user or the owner, and derives the file key.
func openPDFSecurity(enc pdfDict, id []byte, password string) (*pdfSecurity, error) {
	if f := enc["Filter"]; f != pdfName("Standard") {
		return nil, fmt.Errorf("%w: /Filter %v", errPDFSecurity, f)
	}
	v, _ := pdfInt(enc["V"])
	r, _ := pdfInt(enc["R"])
	s := &pdfSecurity{encryptMetadata: enc["EncryptMetadata"] != pdfKeyword("false"), filters: map[pdfName]cryptMethod{}}
	keyLen := 5
	switch v {
	case 0, 1, 2:
		s.strings, s.streams = cryptRC4, cryptRC4
		if bits, ok := pdfInt(enc["Length"]); ok && v == 2 {
			keyLen = bits / 8
		}
	case 4, 5:
		keyLen = 16
		if bits, ok := pdfInt(enc["Length"]); ok && v == 4 {
			keyLen = bits / 8
		}
		cf, _ := enc["CF"].(pdfDict)
		for name, x := range cf {
			d, _ := x.(pdfDict)
			switch d["CFM"] {
			case pdfName("V2"):
				s.filters[name] = cryptRC4
			case pdfName("AESV2"):
				s.filters[name] = cryptAESV2
			case pdfName("AESV3"):
				s.filters[name] = cryptAESV3
			case nil, pdfName("None"):
				s.filters[name] = cryptIdentity
			default:
				return nil, fmt.Errorf("%w: crypt filter method %v", errPDFSecurity, d["CFM"])
			}
		}
		s.filters["Identity"] = cryptIdentity
		var err error
		if s.streams, err = s.filter(enc["StmF"]); err != nil {
			return nil, err
		}
		if s.strings, err = s.filter(enc["StrF"]); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("%w: /V %d", errPDFSecurity, v)
	}
	if keyLen < 5 || keyLen > 16 {
		return nil, fmt.Errorf("%w: %d-bit key", errPDFSecurity, keyLen*8)
	}
	o, _ := enc["O"].(pdfString)
	u, _ := enc["U"].(pdfString)
	switch r {
	case 2, 3, 4:
		// Revisions 3 and 4 check only the first 16 bytes of /U; some
		// writers store no more.
		if r == 2 {
			keyLen = 5
		}
		if len(o) < 32 || len(u) < 32 && (r == 2 || len(u) < 16) {
			return nil, fmt.Errorf("%w: /O or /U too short", errPDFSecurity)
		}
		p, _ := pdfInt(enc["P"])
		h := legacyHandler{r: r, n: keyLen, o: []byte(o[:32]), u: []byte(u[:min(len(u), 32)]), p: uint32(int32(p)), id: id, encryptMetadata: s.encryptMetadata}
		for _, pw := range legacyPasswords(password) {
			if key, ok := h.authenticate(pw); ok {
				s.key = key
				return s, nil
			}
		}
	case 5, 6:
		oe, _ := enc["OE"].(pdfString)
		ue, _ := enc["UE"].(pdfString)
		if len(o) < 48 || len(u) < 48 || len(oe) < 32 || len(ue) < 32 {
			return nil, fmt.Errorf("%w: /O, /U, /OE or /UE too short for revision %d", errPDFSecurity, r)
		}
		perms, _ := enc["Perms"].(pdfString)
		for _, pw := range aesV3Passwords(password) {
			if key, ok := aesV3Key(r, pw, []byte(o[:48]), []byte(u[:48]), []byte(oe[:32]), []byte(ue[:32])); ok {
				s.key = key
				s.permsOK = checkPerms(key, []byte(perms), s.encryptMetadata)
				return s, nil
			}
		}
	default:
		return nil, fmt.Errorf("%w: revision /R %d", errPDFSecurity, r)
	}
	if password == "" {
		return nil, errPDFNeedsPassword
	}
	return nil, errPDFWrongPassword
}

// filter is the method of the crypt filter named by n (default Identity).
func (s *pdfSecurity) filter(n any) (cryptMethod, error) {
	if n == nil {
		return cryptIdentity, nil
	}
	name, _ := n.(pdfName)
	m, ok := s.filters[name]
	if !ok {
		return 0, fmt.Errorf("%w: crypt filter %v is not defined", errPDFSecurity, n)
	}
	return m, nil
}

// legacyPasswords are the byte strings to try for a revision 2-4
// password: the spec's PDFDocEncoding (Latin-1 for the characters people
// type), then the UTF-8 bytes, which some writers use instead.
func legacyPasswords(pw string) [][]byte {
	var latin []byte
	ok := true
	for _, r := range norm.NFC.String(pw) {
		if r > 0xff {
			ok = false
			break
		}
		latin = append(latin, byte(r))
	}
	out := [][]byte{}
	if ok {
		out = append(out, latin)
	}
	if !ok || !bytes.Equal(latin, []byte(pw)) {
		out = append(out, []byte(pw))
	}
	return out
}

// aesV3Passwords are the byte strings to try for a revision 5/6 password:
// UTF-8 after SASLprep (NFKC, non-ASCII spaces as spaces, "mapped to
// nothing" characters dropped), then as given; at most 127 bytes.
func aesV3Passwords(pw string) [][]byte {
	prepped := strings.Map(func(r rune) rune {
		switch {
		case r == '\u00ad' || r == '\u034f' || r == '\u1806' || (r >= '\u180b' && r <= '\u180d') ||
			(r >= '\u200b' && r <= '\u200d') || r == '\u2060' || (r >= '\ufe00' && r <= '\ufe0f') || r == '\ufeff':
			return -1
		case r == '\u00a0' || r == '\u1680' || (r >= '\u2000' && r <= '\u200a') || r == '\u202f' || r == '\u205f' || r == '\u3000':
			return ' '
		}
		return r
	}, pw)
	prepped = norm.NFKC.String(prepped)
	cut := func(s string) []byte {
		b := []byte(s)
		return b[:min(len(b), 127)]
	}
	out := [][]byte{cut(prepped)}
	if prepped != pw {
		out = append(out, cut(pw))
	}
	return out
}

// legacyHandler holds what revisions 2-4 derive keys from.
type legacyHandler struct {
	r, n            int // revision; key length in bytes
	o, u            []byte
	p               uint32
	id              []byte
	encryptMetadata bool
}

func padPassword(pw []byte) []byte {
	out := make([]byte, 32)
	n := copy(out, pw)
	copy(out[n:], pdfPasswordPad)
	return out
}

// authenticate tries pw as the user password, then as the owner password,
// and returns the file key.
func (h legacyHandler) authenticate(pw []byte) ([]byte, bool) {
	if key := h.fileKey(padPassword(pw)); h.userMatches(key) {
		return key, true
	}
	// Algorithm 7: the owner password decrypts /O to the user password.
	if key := h.fileKey(h.userPasswordFromOwner(pw)); h.userMatches(key) {
		return key, true
	}
	return nil, false
}

// fileKey is Algorithm 2, from a padded password.
func (h legacyHandler) fileKey(padded []byte) []byte {
	m := md5.New()
	m.Write(padded)
	m.Write(h.o)
	m.Write([]byte{byte(h.p), byte(h.p >> 8), byte(h.p >> 16), byte(h.p >> 24)})
	m.Write(h.id)
	if h.r >= 4 && !h.encryptMetadata {
		m.Write([]byte{0xff, 0xff, 0xff, 0xff})
	}
	key := m.Sum(nil)
	if h.r >= 3 {
		for range 50 {
			sum := md5.Sum(key[:h.n])
			key = sum[:]
		}
	}
	return key[:h.n]
}

// userMatches is Algorithms 4 and 5: does key reproduce /U?
func (h legacyHandler) userMatches(key []byte) bool {
	if h.r == 2 {
		u := bytes.Clone(pdfPasswordPad)
		rc4XOR(key, u)
		return bytes.Equal(u, h.u)
	}
	m := md5.New()
	m.Write(pdfPasswordPad)
	m.Write(h.id)
	u := m.Sum(nil)
	for i := range 20 {
		rc4XOR(xorKey(key, byte(i)), u)
	}
	return bytes.Equal(u, h.u[:16])
}

// userPasswordFromOwner is Algorithm 7's first steps (Algorithm 3 run
// backwards): the padded user password that /O encrypts under the owner
// password's key.
func (h legacyHandler) userPasswordFromOwner(owner []byte) []byte {
	sum := md5.Sum(padPassword(owner))
	key := sum[:]
	if h.r >= 3 {
		for range 50 {
			sum = md5.Sum(key)
			key = sum[:]
		}
	}
	key = key[:h.n]
	pw := bytes.Clone(h.o)
	if h.r == 2 {
		rc4XOR(key, pw)
		return pw
	}
	for i := 19; i >= 0; i-- {
		rc4XOR(xorKey(key, byte(i)), pw)
	}
	return pw
}

func xorKey(key []byte, b byte) []byte {
	out := make([]byte, len(key))
	for i, k := range key {
		out[i] = k ^ b
	}
	return out
}

func rc4XOR(key, data []byte) {
	c, err := rc4.NewCipher(key)
	if err != nil {
		panic(err) // key lengths are 5 to 16 bytes, always valid
	}
	c.XORKeyStream(data, data)
}

// aesV3Key authenticates pw as the user, then the owner (Algorithms 2.A,
// 11 and 12) and decrypts the file key from /UE or /OE.
func aesV3Key(r int, pw, o, u, oe, ue []byte) ([]byte, bool) {
	var intermediate, wrapped []byte
	switch {
	case bytes.Equal(hashV5(r, pw, u[32:40], nil), u[:32]):
		intermediate, wrapped = hashV5(r, pw, u[40:48], nil), ue
	case bytes.Equal(hashV5(r, pw, o[32:40], u), o[:32]):
		intermediate, wrapped = hashV5(r, pw, o[40:48], u), oe
	default:
		return nil, false
	}
	block, err := aes.NewCipher(intermediate)
	if err != nil {
		return nil, false
	}
	key := make([]byte, 32)
	cipher.NewCBCDecrypter(block, make([]byte, aes.BlockSize)).CryptBlocks(key, wrapped[:32])
	return key, true
}

// hashV5 is revision 5's SHA-256 of password, salt and user data, or
// revision 6's hardened hash (Algorithm 2.B): rounds of AES-128 and
// SHA-256/384/512 until at least 64 have run and the last byte of the
// last round's output allows stopping.
func hashV5(r int, pw, salt, udata []byte) []byte {
	first := sha256.New()
	first.Write(pw)
	first.Write(salt)
	first.Write(udata)
	k := first.Sum(nil)
	if r == 5 {
		return k
	}
	var e []byte
	for round := 0; round < 64 || int(e[len(e)-1]) > round-32; round++ {
		seq := make([]byte, 0, len(pw)+len(k)+len(udata))
		seq = append(append(append(seq, pw...), k...), udata...)
		k1 := bytes.Repeat(seq, 64)
		block, _ := aes.NewCipher(k[:16])
		e = make([]byte, len(k1))
		cipher.NewCBCEncrypter(block, k[16:32]).CryptBlocks(e, k1)
		// The first 16 bytes of E as a number, mod 3: 256 ≡ 1 (mod 3),
		// so the sum of the bytes has the same remainder.
		sum := 0
		for _, b := range e[:16] {
			sum += int(b)
		}
		var h hash.Hash
		switch sum % 3 {
		case 0:
			h = sha256.New()
		case 1:
			h = sha512.New384()
		default:
			h = sha512.New()
		}
		h.Write(e)
		k = h.Sum(nil)
	}
	return k[:32]
}

// checkPerms is Algorithm 13: /Perms, decrypted with the file key, holds
// "adb" and the /EncryptMetadata flag.
func checkPerms(key, perms []byte, encryptMetadata bool) bool {
	if len(perms) < 16 {
		return false
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return false
	}
	p := make([]byte, 16)
	block.Decrypt(p, perms[:16])
	meta := p[8] == 'T'
	return string(p[9:12]) == "adb" && (p[8] != 'T' && p[8] != 'F' || meta == encryptMetadata)
}

// decrypt decrypts the string or stream data of object num gen with
// method m. Data that cannot be AES (too short, not whole blocks) is
// returned as it is: a damaged string should not cost the document.
func (s *pdfSecurity) decrypt(m cryptMethod, num, gen int, data []byte) []byte {
	switch m {
	case cryptRC4:
		out := bytes.Clone(data)
		rc4XOR(s.objectKey(num, gen, false), out)
		return out
	case cryptAESV2:
		return aesCBCDecrypt(s.objectKey(num, gen, true), data)
	case cryptAESV3:
		return aesCBCDecrypt(s.key, data)
	}
	return data
}

// objectKey is Algorithm 1: the file key extended with the object number
// and generation (and "sAlT" for AES), hashed, n+5 bytes at most 16.
func (s *pdfSecurity) objectKey(num, gen int, aesSalt bool) []byte {
	m := md5.New()
	m.Write(s.key)
	m.Write([]byte{byte(num), byte(num >> 8), byte(num >> 16), byte(gen), byte(gen >> 8)})
	if aesSalt {
		m.Write([]byte("sAlT"))
	}
	return m.Sum(nil)[:min(len(s.key)+5, 16)]
}

// aesCBCDecrypt decrypts IV-prefixed AES-CBC data and removes its PKCS#5
// padding (left in place when it is not valid padding).
func aesCBCDecrypt(key, data []byte) []byte {
	if len(data) < 2*aes.BlockSize || len(data)%aes.BlockSize != 0 {
		if len(data) == aes.BlockSize {
			return nil // an IV alone: the empty string
		}
		return data
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return data
	}
	out := make([]byte, len(data)-aes.BlockSize)
	cipher.NewCBCDecrypter(block, data[:aes.BlockSize]).CryptBlocks(out, data[aes.BlockSize:])
	if pad := int(out[len(out)-1]); pad >= 1 && pad <= aes.BlockSize && bytes.Count(out[len(out)-pad:], out[len(out)-1:]) == pad {
		out = out[:len(out)-pad]
	}
	return out
}

// decryptPDF returns data without its encryption, opened with password
// ("" for none). Errors: errPDFNeedsPassword, errPDFWrongPassword,
// errPDFSecurity, or errPDFSyntax when the file's structure could not be
// followed.
func decryptPDF(data []byte, password string) ([]byte, error) {
	f, err := parsePDFFile(data)
	if err != nil {
		return nil, err
	}
	encObj := f.trailer["Encrypt"]
	encRef, _ := encObj.(pdfRef)
	if ref, ok := encObj.(pdfRef); ok {
		e, ok := f.xref[ref.num]
		if !ok || e.kind != 1 {
			return nil, syntaxErr("the encryption dictionary %d is not in the file", ref.num)
		}
		in, err := f.readObjectAt(e.off)
		if err != nil {
			return nil, err
		}
		encObj = in.obj
	}
	enc, ok := encObj.(pdfDict)
	if !ok {
		return nil, syntaxErr("the trailer has no encryption dictionary")
	}
	ids, _ := f.trailer["ID"].(pdfArray)
	var id pdfString
	if len(ids) > 0 {
		id, _ = ids[0].(pdfString)
	}
	sec, err := openPDFSecurity(enc, []byte(id), password)
	if err != nil {
		return nil, err
	}
	return f.rewrite(sec, encRef.num)
}

// rewrite writes f again, decrypted with sec, without the encryption
// dictionary (object encNum, 0 when it is direct).
func (f *pdfFile) rewrite(sec *pdfSecurity, encNum int) ([]byte, error) {
	var out bytes.Buffer
	out.Grow(len(f.data) + len(f.data)/8)
	// The file's own version when it is one the library accepts.
	header := []byte("%PDF-1.7")
	if len(f.data) > 8 && bytes.HasPrefix(f.data, []byte("%PDF-1.")) && f.data[7] >= '0' && f.data[7] <= '7' {
		header[7] = f.data[7]
	}
	out.Write(header)
	out.WriteString("\n%\xe2\xe3\xcf\xd3\n")

	nums := slices.Sorted(maps.Keys(f.xref))
	maxNum := nums[len(nums)-1] // parsePDFFile found at least one entry
	offsets := make(map[int]int, len(f.xref))
	gens := make(map[int]int, len(f.xref))
	compressed := false
	for _, num := range nums {
		e := f.xref[num]
		if num == 0 || num == encNum {
			continue
		}
		if e.kind == 2 {
			compressed = true
			continue
		}
		if e.kind != 1 {
			continue
		}
		in, err := f.readObjectAt(e.off)
		if err != nil || in.num != num {
			continue // a dangling entry: readers treat the object as null
		}
		if in.data != nil && in.dict["Type"] == pdfName("XRef") {
			continue
		}
		offsets[num], gens[num] = out.Len(), in.gen
		fmt.Fprintf(&out, "%d %d obj\n", num, in.gen)
		strs := func(s pdfString) pdfString {
			return pdfString(sec.decrypt(sec.strings, in.num, in.gen, []byte(s)))
		}
		if in.data == nil {
			writePDFObject(&out, in.obj, strs)
			out.WriteString("\nendobj\n")
			continue
		}
		d, plain := sec.decryptStream(in)
		d["Length"] = pdfNum(strconv.Itoa(len(plain)))
		writePDFObject(&out, d, strs)
		out.WriteString("\nstream\n")
		out.Write(plain)
		out.WriteString("\nendstream\nendobj\n")
	}
	if len(offsets) == 0 {
		return nil, syntaxErr("no objects could be read")
	}

	trailer := pdfDict{}
	for _, k := range []pdfName{"Root", "Info", "ID"} {
		if v, ok := f.trailer[k]; ok {
			trailer[k] = v
		}
	}
	start := out.Len()
	if !compressed {
		size := maxNum + 1
		fmt.Fprintf(&out, "xref\n0 %d\n0000000000 65535 f\r\n", size)
		for num := 1; num < size; num++ {
			if off, ok := offsets[num]; ok {
				fmt.Fprintf(&out, "%010d %05d n\r\n", off, gens[num])
			} else {
				out.WriteString("0000000000 00000 f\r\n")
			}
		}
		trailer["Size"] = pdfNum(strconv.Itoa(size))
		out.WriteString("trailer\n")
		writePDFObject(&out, trailer, nil)
	} else {
		// Objects in object streams need a cross-reference stream: one
		// more object, uncompressed, rows of type, offset or stream
		// number, and generation or index.
		xrefNum := maxNum + 1
		size := xrefNum + 1
		offsets[xrefNum] = start
		rows := make([]byte, 0, size*13)
		for num := range size {
			var typ byte
			var a, b uint64
			if off, ok := offsets[num]; ok {
				typ, a, b = 1, uint64(off), uint64(gens[num])
			} else if e, ok := f.xref[num]; ok && e.kind == 2 && num != encNum {
				typ, a, b = 2, uint64(e.strm), uint64(e.index)
			}
			rows = append(rows, typ)
			for sh := 56; sh >= 0; sh -= 8 {
				rows = append(rows, byte(a>>sh))
			}
			rows = append(rows, byte(b>>24), byte(b>>16), byte(b>>8), byte(b))
		}
		trailer["Type"] = pdfName("XRef")
		trailer["Size"] = pdfNum(strconv.Itoa(size))
		trailer["W"] = pdfArray{pdfNum("1"), pdfNum("8"), pdfNum("4")}
		trailer["Length"] = pdfNum(strconv.Itoa(len(rows)))
		fmt.Fprintf(&out, "%d 0 obj\n", xrefNum)
		writePDFObject(&out, trailer, nil)
		out.WriteString("\nstream\n")
		out.Write(rows)
		out.WriteString("\nendstream\nendobj")
	}
	fmt.Fprintf(&out, "\nstartxref\n%d\n%%%%EOF\n", start)
	return out.Bytes(), nil
}

// decryptStream returns a stream's dictionary, ready to be written
// unencrypted, and its decrypted data. Metadata left in the clear
// (/EncryptMetadata false) stays as it is; a stream that names its own
// crypt filter (/Filter [/Crypt ...]) uses it, and the /Crypt entry goes.
func (s *pdfSecurity) decryptStream(in indirect) (pdfDict, []byte) {
	d := pdfDict{}
	for k, v := range in.dict {
		d[k] = v
	}
	m := s.streams
	if d["Type"] == pdfName("Metadata") && !s.encryptMetadata {
		m = cryptIdentity
	}
	filters, isArray := d["Filter"].(pdfArray)
	if !isArray && d["Filter"] != nil {
		filters = pdfArray{d["Filter"]}
	}
	if len(filters) > 0 && filters[0] == pdfName("Crypt") {
		parms, _ := d["DecodeParms"].(pdfDict)
		parmList, parmsArray := d["DecodeParms"].(pdfArray)
		if parmsArray && len(parmList) > 0 {
			parms, _ = parmList[0].(pdfDict)
			d["DecodeParms"] = parmList[1:]
		} else {
			delete(d, "DecodeParms")
		}
		m = cryptIdentity
		if name, ok := parms["Name"].(pdfName); ok {
			if fm, ok := s.filters[name]; ok {
				m = fm
			}
		}
		if rest := filters[1:]; len(rest) > 0 {
			d["Filter"] = rest
		} else {
			delete(d, "Filter")
		}
	}
	return d, s.decrypt(m, in.num, in.gen, in.data)
}
