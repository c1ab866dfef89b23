package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/charmbracelet/lipgloss"
	"github.com/mattn/go-isatty"
	"github.com/muesli/termenv"
)

// This file holds everything bench prints: the progress line, the lipgloss
// summary (all its styles are here), the plain summary line and the JSON.

// progress rewrites one status line on a terminal every 250 ms. On other
// writers it does nothing.
type progress struct {
	w    io.Writer
	on   bool
	quit chan struct{}
	wg   sync.WaitGroup
}

func newProgress(w io.Writer, force int) *progress {
	on := force > 0
	if force == 0 {
		if f, ok := w.(*os.File); ok {
			on = isatty.IsTerminal(f.Fd())
		}
	}
	return &progress{w: w, on: on}
}

// start prints line() until stop.
func (p *progress) start(line func() string) {
	if !p.on {
		return
	}
	p.quit = make(chan struct{})
	p.wg.Go(func() {
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-p.quit:
				fmt.Fprint(p.w, "\r\033[K")
				return
			case <-t.C:
				fmt.Fprint(p.w, "\r\033[K"+line())
			}
		}
	})
}

// stop ends the line started by start and clears it.
func (p *progress) stop() {
	if !p.on || p.quit == nil {
		return
	}
	close(p.quit)
	p.wg.Wait()
	p.quit = nil
}

// writeResult prints res as cfg asks: JSON, or the summary and the plain
// line.
func writeResult(w io.Writer, cfg Config, res Result) error {
	if cfg.JSON {
		enc := json.NewEncoder(w)
		return enc.Encode(res)
	}
	noColor := cfg.NoColor || os.Getenv("NO_COLOR") != ""
	if _, err := fmt.Fprintln(w, summary(w, noColor, res)); err != nil {
		return err
	}
	_, err := fmt.Fprintln(w, PlainLine(res))
	return err
}

type styles struct {
	box, title, key, value, good, bad, faint lipgloss.Style
}

func newStyles(w io.Writer, noColor bool) styles {
	r := lipgloss.NewRenderer(w)
	if noColor {
		r.SetColorProfile(termenv.Ascii)
	}
	return styles{
		box:   r.NewStyle().Border(lipgloss.RoundedBorder()).BorderForeground(lipgloss.Color("8")).Padding(0, 1),
		title: r.NewStyle().Bold(true).Foreground(lipgloss.Color("6")),
		key:   r.NewStyle().Foreground(lipgloss.Color("8")).Width(12),
		value: r.NewStyle().Bold(true),
		good:  r.NewStyle().Bold(true).Foreground(lipgloss.Color("2")),
		bad:   r.NewStyle().Bold(true).Foreground(lipgloss.Color("1")),
		faint: r.NewStyle().Faint(true),
	}
}

// summary renders res as a small table in a box.
func summary(w io.Writer, noColor bool, res Result) string {
	st := newStyles(w, noColor)
	var rows []string
	row := func(k, v string) { rows = append(rows, st.key.Render(k)+st.value.Render(v)) }
	errStyle := st.good
	if res.Errors > 0 {
		errStyle = st.bad
	}
	title := st.title.Render("nows bench · "+res.Mode) + "  " + st.faint.Render(res.URL)
	switch res.Mode {
	case ModeEcho:
		kind := "text"
		if res.Binary {
			kind = "binary"
		}
		row("connections", fmt.Sprintf("%d × %d B %s, pipeline %d", res.Conns, res.Size, kind, res.Pipeline))
		row("messages", fmt.Sprintf("%d in %s", res.Messages, fmtDur(res.Elapsed)))
		row("throughput", fmt.Sprintf("%.0f msgs/s", res.MsgsPerSec))
		row("latency", fmt.Sprintf("p50 %s  p99 %s  p999 %s  max %s", fmtDur(res.P50), fmtDur(res.P99), fmtDur(res.P999), fmtDur(res.Max)))
	case ModeIdle:
		row("opened", fmt.Sprintf("%d of %d in %s", res.Opened, res.Idle, fmtDur(res.OpenTime)))
		row("held", fmt.Sprintf("%s, %d still open after", fmtDur(res.Hold), res.Alive))
		row("file limit", fmt.Sprint(res.FileLimit))
	case ModeHandshakes:
		row("handshakes", fmt.Sprintf("%d of %d in %s, %d at a time", res.Opened, res.Handshakes, fmtDur(res.Elapsed), res.Conns))
		row("rate", fmt.Sprintf("%.0f handshakes/s", res.HandshakesPerSec))
	}
	rows = append(rows, st.key.Render("errors")+errStyle.Render(fmt.Sprint(res.Errors)))
	if res.FirstError != "" {
		rows = append(rows, st.key.Render("first error")+st.faint.Render(res.FirstError))
	}
	for _, warn := range res.Warnings {
		rows = append(rows, st.key.Render("warning")+st.bad.Render(warn))
	}
	return st.box.Render(title + "\n" + strings.Join(rows, "\n"))
}

// PlainLine returns the one-line summary meant for scripts, for example
//
//	bench: url=ws://127.0.0.1:8765/echo conns=100 msgs=120345 msgs/s=40115 p50=2.3ms p99=5.1ms p999=8.2ms errors=0
func PlainLine(res Result) string {
	switch res.Mode {
	case ModeIdle:
		return fmt.Sprintf("bench: url=%s idle=%d opened=%d alive=%d open_time=%s hold=%s errors=%d",
			res.URL, res.Idle, res.Opened, res.Alive, fmtDur(res.OpenTime), fmtDur(res.Hold), res.Errors)
	case ModeHandshakes:
		return fmt.Sprintf("bench: url=%s handshakes=%d conns=%d ok=%d handshakes/s=%.0f errors=%d",
			res.URL, res.Handshakes, res.Conns, res.Opened, res.HandshakesPerSec, res.Errors)
	default:
		return fmt.Sprintf("bench: url=%s conns=%d msgs=%d msgs/s=%.0f p50=%s p99=%s p999=%s errors=%d",
			res.URL, res.Conns, res.Messages, res.MsgsPerSec, fmtDur(res.P50), fmtDur(res.P99), fmtDur(res.P999), res.Errors)
	}
}

// fmtDur rounds d to three significant digits.
func fmtDur(d time.Duration) string {
	switch {
	case d >= 100*time.Second:
		return d.Round(time.Second).String()
	case d >= 10*time.Second:
		return d.Round(100 * time.Millisecond).String()
	case d >= time.Second:
		return d.Round(10 * time.Millisecond).String()
	case d >= 100*time.Millisecond:
		return d.Round(time.Millisecond).String()
	case d >= 10*time.Millisecond:
		return d.Round(100 * time.Microsecond).String()
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond).String()
	case d >= 100*time.Microsecond:
		return d.Round(time.Microsecond).String()
	default:
		return d.Round(100 * time.Nanosecond).String()
	}
}

// MarshalJSON writes the result with durations as microseconds (_us) and
// seconds (_s).
func (r Result) MarshalJSON() ([]byte, error) {
	type plain Result
	us := func(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
	return json.Marshal(struct {
		plain
		ElapsedS  float64 `json:"elapsed_s"`
		P50us     float64 `json:"p50_us"`
		P99us     float64 `json:"p99_us"`
		P999us    float64 `json:"p999_us"`
		MinUs     float64 `json:"min_us"`
		MaxUs     float64 `json:"max_us"`
		MeanUs    float64 `json:"mean_us"`
		OpenTimeS float64 `json:"open_time_s"`
		HoldS     float64 `json:"hold_s"`
	}{
		plain:     plain(r),
		ElapsedS:  r.Elapsed.Seconds(),
		P50us:     us(r.P50),
		P99us:     us(r.P99),
		P999us:    us(r.P999),
		MinUs:     us(r.Min),
		MaxUs:     us(r.Max),
		MeanUs:    us(r.Mean),
		OpenTimeS: r.OpenTime.Seconds(),
		HoldS:     r.Hold.Seconds(),
	})
}
