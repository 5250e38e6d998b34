package extract

import (
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
)

// emlMsg is a message with the given extra header lines and body.
func emlMsg(header, body string) string {
	return "From: =?utf-8?q?J=C3=BCrgen?= <j@example.com>\r\n" +
		"To: \"=?utf-8?b?0JDQu9C10LrRgQ==?=\" <a@example.com>, b@example.com\r\n" +
		"Date: Mon, 2 Jan 2006 15:04:05 -0700\r\n" +
		"Subject: =?iso-8859-1?q?Caf=E9?= report\r\n" +
		"MIME-Version: 1.0\r\n" + header + "\r\n" + body
}

const emlHead = "From: Jürgen <j@example.com>\nTo: Алекс <a@example.com>, b@example.com\nDate: Mon, 2 Jan 2006 15:04:05 -0700\nSubject: Café report"

func TestExtractEML(t *testing.T) {
	t.Parallel()
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	cases := map[string]struct {
		msg      string
		text     string
		sections map[string]string
	}{
		"PlainPreferredOverHTML": {
			msg: emlMsg("Content-Type: multipart/alternative; boundary=\"b1\"\r\n",
				"preamble\r\n--b1\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"+
					"Gr=FC=DFe from the caf=E9,\r\nsee the figures.\r\n\r\nSecond para=\r\ngraph.\r\n"+
					"--b1\r\nContent-Type: text/html\r\n\r\n<p>HTML version</p>\r\n--b1--\r\nepilogue\r\n"),
			text: emlHead + "\n\nGrüße from the café,\nsee the figures.\n\nSecond paragraph.",
		},
		"HTMLOnly": {
			msg: emlMsg("Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n",
				b64("<html><body><h2>Figures</h2><p>Sales rose.</p><ul><li>one</li><li>two</li></ul></body></html>")),
			text: emlHead + "\n\nFigures\n\nSales rose.\n\n- one\n- two",
			sections: map[string]string{
				"Café report":           emlHead + "\n\n",
				"Café report > Figures": "Figures\n\nSales rose.\n\n- one\n- two",
			},
		},
		"AttachmentsReadAndListed": {
			msg: emlMsg("Content-Type: multipart/mixed; boundary=mix\r\n",
				"--mix\r\nContent-Type: text/plain\r\n\r\nBody text.\r\n"+
					"--mix\r\nContent-Type: text/plain; name=notes.txt\r\nContent-Disposition: attachment; filename=\"notes.txt\"\r\nContent-Transfer-Encoding: base64\r\n\r\n"+
					b64("Attached notes.\n")+"\r\n"+
					"--mix\r\nContent-Type: image/png; name=chart.png\r\nContent-Transfer-Encoding: base64\r\n\r\n"+
					b64("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")+"\r\n"+
					"--mix\r\nContent-Type: application/pgp-signature\r\n\r\n-----BEGIN PGP SIGNATURE-----\r\n--mix--\r\n"),
			text: emlHead + "\nAttachments: notes.txt, chart.png\n\nBody text.\n\nAttachment: notes.txt\n\nAttached notes.",
			sections: map[string]string{
				"Café report":           emlHead + "\nAttachments: notes.txt, chart.png\n\nBody text.\n\n",
				"Attachment: notes.txt": "Attachment: notes.txt\n\nAttached notes.",
			},
		},
		"MissingFinalBoundary": {
			msg:  emlMsg("Content-Type: multipart/alternative; boundary = next\r\n", "--next\r\nContent-type: text/plain\r\n\r\nSome body"),
			text: emlHead + "\n\nSome body",
		},
		"MalformedBase64": {
			msg:  emlMsg("Content-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n", b64("Readable start, damage, rest.")[:24]+"*!!\r\n"+b64("Readable start, damage, rest.")[24:]),
			text: emlHead + "\n\nReadable start, damage, rest.",
		},
		"UnknownCharsetAndNoContentType": {
			msg:  emlMsg("Content-Type: text/plain; charset=x-made-up\r\n", "caf\xe9 au lait"),
			text: emlHead + "\n\ncafé au lait",
		},
		"NoMIME": {
			msg:  "From: a@example.com\nSubject: plain\n\nJust text.\n",
			text: "From: a@example.com\nSubject: plain\n\nJust text.",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ext := mustExtract(t, TypeEML, []byte(tc.msg))
			if ext.Text != tc.text {
				t.Fatalf("text =\n%q\nwant\n%q", ext.Text, tc.text)
			}
			if tc.sections != nil {
				got := sectionTexts(ext)
				for k, v := range tc.sections {
					if got[k] != v {
						t.Errorf("section %q = %q, want %q (all: %q)", k, got[k], v, got)
					}
				}
			}
		})
	}
	t.Run("TitleIsSubject", func(t *testing.T) {
		t.Parallel()
		ext := mustExtract(t, TypeEML, []byte(emlMsg("", "Body.")))
		if ext.Title != "Café report" {
			t.Errorf("title = %q", ext.Title)
		}
	})
}

// emlNested is a message enclosing n more messages, each as message/rfc822.
func emlNested(n int) string {
	msg := fmt.Sprintf("From: a@example.com\r\nSubject: level %d\r\n\r\nText of level %d.\r\n", n, n)
	for i := n - 1; i >= 0; i-- {
		msg = fmt.Sprintf("From: a@example.com\r\nSubject: level %d\r\nContent-Type: multipart/mixed; boundary=b%d\r\n\r\n"+
			"--b%d\r\nContent-Type: text/plain\r\n\r\nText of level %d.\r\n--b%d\r\nContent-Type: message/rfc822\r\n\r\n%s\r\n--b%d--\r\n",
			i, i, i, i, i, msg, i)
	}
	return msg
}

func TestExtractEMLBounds(t *testing.T) {
	t.Parallel()
	t.Run("EnclosedMessagesThreeDeep", func(t *testing.T) {
		t.Parallel()
		ext := mustExtract(t, TypeEML, []byte(emlNested(6)))
		for i := 0; i <= maxEMLMessageDepth; i++ {
			if !strings.Contains(ext.Text, fmt.Sprintf("Text of level %d.", i)) {
				t.Errorf("level %d missing:\n%s", i, ext.Text)
			}
		}
		if strings.Contains(ext.Text, fmt.Sprintf("Text of level %d.", maxEMLMessageDepth+1)) {
			t.Errorf("level %d read, beyond the bound:\n%s", maxEMLMessageDepth+1, ext.Text)
		}
		if !strings.Contains(ext.Text, "Attachments: level 4") {
			t.Errorf("level 4 not listed:\n%s", ext.Text)
		}
		want := []string{"Attachment: level 1", "Attachment: level 2", "Attachment: level 3"}
		found := false
		for _, s := range ext.Sections {
			if strings.Join(s.HeadingPath, " > ") == strings.Join(want, " > ") {
				found = true
			}
		}
		if !found {
			t.Errorf("no section %q in %+v", want, ext.Sections)
		}
	})
	t.Run("TwentyAttachments", func(t *testing.T) {
		t.Parallel()
		var body strings.Builder
		for i := range 30 {
			fmt.Fprintf(&body, "--m\r\nContent-Type: text/plain\r\nContent-Disposition: attachment; filename=a%02d.txt\r\n\r\nContent %02d.\r\n", i, i)
		}
		body.WriteString("--m--\r\n")
		ext := mustExtract(t, TypeEML, []byte(emlMsg("Content-Type: multipart/mixed; boundary=m\r\n", body.String())))
		if got := strings.Count(ext.Text, "\nAttachment: a"); got != maxEMLAttachments {
			t.Errorf("%d attachments read, want %d", got, maxEMLAttachments)
		}
		if !strings.Contains(ext.Text, "Content 19.") || strings.Contains(ext.Text, "Content 20.") {
			t.Errorf("wrong attachments read:\n%s", ext.Text)
		}
		if !strings.Contains(ext.Text, "a28.txt, a29.txt\n") {
			t.Errorf("unread attachments not listed:\n%s", ext.Text)
		}
	})
	t.Run("DeepMultipart", func(t *testing.T) {
		t.Parallel()
		// 20,000 nested multiparts: maxEMLPartDepth levels are walked.
		var b strings.Builder
		b.WriteString("From: a@example.com\r\nSubject: deep\r\nContent-Type: multipart/mixed; boundary=x0\r\n\r\n")
		for i := range 20_000 {
			fmt.Fprintf(&b, "--x%d\r\nContent-Type: multipart/mixed; boundary=x%d\r\n\r\n", i, i+1)
		}
		b.WriteString("--x20000\r\nContent-Type: text/plain\r\n\r\nbottom\r\n")
		ext := mustExtract(t, TypeEML, []byte(b.String()))
		if ext.Text != "From: a@example.com\nSubject: deep" {
			t.Errorf("text = %q", truncateRunes(ext.Text, 200))
		}
	})
	t.Run("ManyHeaders", func(t *testing.T) {
		t.Parallel()
		msg := "From: a@example.com\r\nSubject: s\r\n" + strings.Repeat("X-Junk: "+strings.Repeat("y", 100)+"\r\n", 20_000) + "\r\nBody.\r\n"
		ext := mustExtract(t, TypeEML, []byte(msg))
		if ext.Text != "From: a@example.com\nSubject: s\n\nBody." {
			t.Errorf("text = %q", truncateRunes(ext.Text, 200))
		}
	})
	t.Run("Empty", func(t *testing.T) {
		t.Parallel()
		_, err := Extract(t.Context(), TypeEML, []byte("\r\n\r\n"), Limits{})
		if e, ok := AsError(err); !ok || e.Code != CodeNoText {
			t.Errorf("err = %v, want no_text", err)
		}
	})
}
