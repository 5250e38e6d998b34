package ingest

import (
	"path"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxFilenameBytes bounds a stored file name: the longest name most file
// systems accept.
const MaxFilenameBytes = 255

// maxKeptExtBytes is the longest extension BaseName keeps when it shortens
// a name, so that the type a name says survives the cut.
const maxKeptExtBytes = 16

// BaseName reduces a file name a client sent to the one ragd stores and
// serves back: its last path element whichever platform's separators it
// uses ("/" and "\", and a leading Windows drive letter), so
// `..\..\win.ini.txt`, `C:\Users\x\report.pdf` and `../../etc/passwd` are
// win.ini.txt, report.pdf and passwd. It drops control and bidirectional
// formatting characters (which can disguise an extension), turns bytes
// that are not UTF-8 into U+FFFD and trims surrounding spaces. A name
// longer than MaxFilenameBytes is cut on a UTF-8 boundary, keeping its
// extension when that is at most 16 bytes. A name with nothing left, or
// only dots ("..", "C:\", "\x00"), is "": no file name.
func BaseName(name string) string {
	name = strings.ToValidUTF8(name, "\uFFFD")
	name = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) {
			return -1
		}
		return r
	}, name)
	elems := strings.FieldsFunc(name, func(r rune) bool { return r == '/' || r == '\\' })
	if len(elems) == 0 {
		return ""
	}
	name = elems[len(elems)-1]
	if len(name) >= 2 && name[1] == ':' && ('a' <= name[0]|0x20 && name[0]|0x20 <= 'z') {
		name = name[2:] // "C:report.pdf", relative to drive C's current directory
	}
	name = strings.TrimSpace(name)
	if strings.Trim(name, ".") == "" {
		return ""
	}
	if len(name) > MaxFilenameBytes {
		ext := path.Ext(name)
		if len(ext) > maxKeptExtBytes {
			ext = ""
		}
		stem := name[:len(name)-len(ext)]
		n := MaxFilenameBytes - len(ext)
		for n > 0 && !utf8.RuneStart(stem[n]) {
			n--
		}
		name = strings.TrimRightFunc(stem[:n], unicode.IsSpace) + ext
	}
	return name
}
