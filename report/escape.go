package report

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Escape makes s safe to show to a person: on a terminal, in a table, in
// a document. Pod and container names, labels, images, a store's series
// and the bodies of error answers are chosen by whoever runs a container
// or answers at a URL, and a terminal obeys the control sequences they may
// carry: clear the screen, move the cursor to overwrite a line, forge a
// hyperlink, set the window title. So every control character (C0, DEL
// and C1, tab and newline included), every invisible formatting character
// (the bidirectional overrides such as U+202E among them, which make text
// read in another order than it is stored), the line and paragraph
// separators and every byte that is not UTF-8 are written as Go-style
// escapes: \t, \n, \r, \x1b, \u202e, \xff. The backslash itself is left
// alone, so that escaping twice changes nothing more than escaping once
// (errors are escaped where they quote a remote answer and again where
// the command prints them).
//
// Every human-readable output of the report goes through here; its JSON
// does not, as JSON escapes control characters itself and must keep the
// values exactly as they are.
func Escape(s string) string {
	i := 0
	for i < len(s) {
		if c := s[i]; c >= 0x20 && c < 0x7f {
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if unsafeRune(r, size) {
			break
		}
		i += size
	}
	if i == len(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	b.WriteString(s[:i])
	for i < len(s) {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case !unsafeRune(r, size):
			b.WriteString(s[i : i+size])
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case size == 1:
			// A C0 control, DEL, or a byte that is not UTF-8.
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r <= 0xffff:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			fmt.Fprintf(&b, `\U%08x`, r)
		}
		i += size
	}
	return b.String()
}

// unsafeRune says whether the rune r, size bytes long in its string, is
// shown escaped.
func unsafeRune(r rune, size int) bool {
	if r == utf8.RuneError && size == 1 {
		return true
	}
	return unicode.In(r, unicode.Cc, unicode.Cf, unicode.Zl, unicode.Zp)
}

// markdownText escapes s for a Markdown table cell or heading: Escape,
// then a backslash before every character Markdown would read as syntax
// there: "|" would end the cell; "[", "]", "<", ">" and "&" would make a
// link, an image, HTML or a character reference (one that writes U+202E
// back, for instance); "`" would start code; "\" would escape what follows
// it. Emphasis ("*", "_") is left as it is: it changes only how text looks,
// and names are full of underscores.
func markdownText(s string) string {
	return markdownEscaper.Replace(Escape(s))
}

var markdownEscaper = strings.NewReplacer(
	`\`, `\\`, "|", `\|`, "[", `\[`, "]", `\]`, "<", `\<`, ">", `\>`, "&", `\&`, "`", "\\`",
)
