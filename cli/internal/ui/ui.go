// Package ui prints the CLI's human output: file statuses in the style of
// Rails generators (create, identical, conflict, skip, force, remove),
// notes, warnings and hints. All styles live in this file.
//
// Colour is used only when the writer is a terminal; NO_COLOR (and
// CLICOLOR=0) in the environment or New's noColor turn it off.
// Machine-readable output (nows routes --json) never goes through here.
package ui

import (
	"fmt"
	"io"

	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"
)

// Status is what happened to a file.
type Status string

// The statuses, as Rails generators print them.
const (
	Create    Status = "create"    // a new file
	Identical Status = "identical" // the file already had this content
	Update    Status = "update"    // an existing file was edited (nows handler add, nows registry)
	Conflict  Status = "conflict"  // the file exists with other content; nothing written
	Skip      Status = "skip"      // not written (--dry-run, or a conflict)
	Force     Status = "force"     // overwritten because of --force
	Remove    Status = "remove"    // deleted
	Run       Status = "run"       // a command that was run, such as go mod tidy
)

// UI writes styled lines to an output and an error writer.
type UI struct {
	out, err io.Writer
	st       styles
	eStyles  styles
}

type styles struct {
	status map[Status]lipgloss.Style
	bold   lipgloss.Style
	faint  lipgloss.Style
	warn   lipgloss.Style
	errorS lipgloss.Style
	ok     lipgloss.Style
	code   lipgloss.Style
}

// New returns a UI that writes to out and err. Colour is chosen separately
// for each writer; noColor turns it off for both.
func New(out, err io.Writer, noColor bool) *UI {
	return &UI{out: out, err: err, st: newStyles(out, noColor), eStyles: newStyles(err, noColor)}
}

func newStyles(w io.Writer, noColor bool) styles {
	r := lipgloss.NewRenderer(w)
	if noColor {
		r.SetColorProfile(termenv.Ascii)
	}
	green, yellow, red, blue, cyan, grey :=
		lipgloss.Color("2"), lipgloss.Color("3"), lipgloss.Color("1"), lipgloss.Color("4"), lipgloss.Color("6"), lipgloss.Color("8")
	s := r.NewStyle().Bold(true)
	return styles{
		status: map[Status]lipgloss.Style{
			Create:    s.Foreground(green),
			Identical: s.Foreground(blue),
			Update:    s.Foreground(cyan),
			Conflict:  s.Foreground(red),
			Skip:      s.Foreground(yellow),
			Force:     s.Foreground(yellow),
			Remove:    s.Foreground(red),
			Run:       s.Foreground(grey),
		},
		bold:   r.NewStyle().Bold(true),
		faint:  r.NewStyle().Faint(true),
		warn:   s.Foreground(yellow),
		errorS: s.Foreground(red),
		ok:     s.Foreground(green),
		code:   r.NewStyle().Foreground(cyan),
	}
}

// Out is the output writer.
func (u *UI) Out() io.Writer { return u.out }

// Err is the error writer.
func (u *UI) Err() io.Writer { return u.err }

// Status prints one file status, right-aligned like Rails:
//
//	create  blueprints/chat_bp.go
func (u *UI) Status(s Status, path string) {
	fmt.Fprintf(u.out, "%s  %s\n", u.st.status[s].Render(fmt.Sprintf("%12s", s)), path)
}

// Heading prints a bold line.
func (u *UI) Heading(format string, args ...any) {
	fmt.Fprintln(u.out, u.st.bold.Render(fmt.Sprintf(format, args...)))
}

// Line prints a plain line.
func (u *UI) Line(format string, args ...any) {
	fmt.Fprintf(u.out, format+"\n", args...)
}

// Success prints a line starting with a green check mark.
func (u *UI) Success(format string, args ...any) {
	fmt.Fprintf(u.out, "%s %s\n", u.st.ok.Render("✓"), fmt.Sprintf(format, args...))
}

// Hint prints a faint line, for advice that is not essential.
func (u *UI) Hint(format string, args ...any) {
	fmt.Fprintln(u.out, u.st.faint.Render(fmt.Sprintf(format, args...)))
}

// Command prints a shell command the user may want to run next, indented.
func (u *UI) Command(cmd string) {
	fmt.Fprintf(u.out, "    %s\n", u.st.code.Render(cmd))
}

// Warn prints a warning to the error writer.
func (u *UI) Warn(format string, args ...any) {
	fmt.Fprintf(u.err, "%s %s\n", u.eStyles.warn.Render("warning:"), fmt.Sprintf(format, args...))
}

// Note prints a note to the error writer: what a command did instead of
// the usual, and why.
func (u *UI) Note(format string, args ...any) {
	fmt.Fprintf(u.err, "%s %s\n", u.eStyles.faint.Render("note:"), fmt.Sprintf(format, args...))
}

// Error prints an error to the error writer, prefixed "nows: error:".
func (u *UI) Error(err error) {
	fmt.Fprintf(u.err, "nows: %s %v\n", u.eStyles.errorS.Render("error:"), err)
}

// Code renders s as code (a command, a path) for use inside a line.
func (u *UI) Code(s string) string { return u.st.code.Render(s) }

// Bold renders s in bold for use inside a line.
func (u *UI) Bold(s string) string { return u.st.bold.Render(s) }
