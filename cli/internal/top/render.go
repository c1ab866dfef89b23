package top

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"
)

// This file holds everything top prints: the frame and all its styles.

// maxRoutes and maxCloses bound the tables: the rest is summed in one line.
const (
	maxRoutes = 10
	maxCloses = 10
	maxName   = 40 // longer route and room names are cut with …
)

type styles struct {
	title, faint, key, value, head, good, bad lipgloss.Style
}

func newStyles(w io.Writer, noColor bool) styles {
	r := lipgloss.NewRenderer(w)
	if noColor {
		r.SetColorProfile(termenv.Ascii)
	}
	return styles{
		title: r.NewStyle().Bold(true).Foreground(lipgloss.Color("6")),
		faint: r.NewStyle().Faint(true),
		key:   r.NewStyle().Foreground(lipgloss.Color("8")),
		value: r.NewStyle().Bold(true),
		head:  r.NewStyle().Bold(true).Foreground(lipgloss.Color("8")),
		good:  r.NewStyle().Bold(true).Foreground(lipgloss.Color("2")),
		bad:   r.NewStyle().Bold(true).Foreground(lipgloss.Color("1")),
	}
}

// rates are per-second rates between two snapshots of the same server.
type rates struct {
	msgsIn, msgsOut, bytesIn, bytesOut, drops, published float64
	routes                                               map[string]routeRates
}

type routeRates struct{ msgsIn, msgsOut, bytesIn, bytesOut float64 }

// computeRates returns the rates from prev to cur, or nil when there are
// none: no earlier snapshot, a restarted server, or no time between them.
func computeRates(prev, cur *Snapshot) *rates {
	if prev == nil || !prev.Started.Equal(cur.Started) {
		return nil
	}
	dt := cur.Time.Sub(prev.Time).Seconds()
	if dt <= 0 {
		return nil
	}
	rate := func(a, b int64) float64 { return math.Max(0, float64(a-b)/dt) }
	r := &rates{routes: map[string]routeRates{}}
	old := map[string]Route{}
	for _, x := range prev.Routes {
		old[x.Route] = x
	}
	for _, x := range cur.Routes {
		p, ok := old[x.Route]
		if !ok {
			continue
		}
		rr := routeRates{rate(x.MessagesIn, p.MessagesIn), rate(x.MessagesOut, p.MessagesOut), rate(x.BytesIn, p.BytesIn), rate(x.BytesOut, p.BytesOut)}
		r.routes[x.Route] = rr
		r.msgsIn += rr.msgsIn
		r.msgsOut += rr.msgsOut
		r.bytesIn += rr.bytesIn
		r.bytesOut += rr.bytesOut
	}
	r.drops = rate(cur.QueueDropped, prev.QueueDropped)
	r.published = rate(cur.Broker.Published, prev.Broker.Published)
	return r
}

// frame renders one snapshot; r may be nil (no rates yet). once says the
// frame is the only one (--once).
func frame(st styles, base string, s *Snapshot, r *rates, once bool) string {
	var b strings.Builder
	line := func(parts ...string) { b.WriteString(strings.TrimRight(strings.Join(parts, ""), " ") + "\n") }
	kv := func(k, v string) string { return st.key.Render(k) + " " + st.value.Render(v) }

	// The header: where, which node, since when.
	head := []string{base}
	if s.Node != "" {
		head = append(head, "node "+s.Node)
	}
	if !s.Started.IsZero() && !s.Time.IsZero() {
		head = append(head, "up "+uptime(s.Time.Sub(s.Started)))
	}
	if !s.Time.IsZero() {
		head = append(head, s.Time.UTC().Format("15:04:05 UTC"))
	}
	line(st.title.Render("nows top"), "  ", st.faint.Render(strings.Join(head, " · ")))
	b.WriteString("\n")

	// The totals.
	rate := func(f func(*rates) float64, format func(float64) string) string {
		if r == nil {
			return "-"
		}
		return format(f(r))
	}
	drops := kv("queue drops", num(float64(s.QueueDropped)))
	if s.QueueDropped > 0 {
		drops = st.key.Render("queue drops") + " " + st.bad.Render(num(float64(s.QueueDropped)))
	}
	if r != nil {
		drops += st.faint.Render(" (" + num(r.drops) + "/s)")
	}
	line(kv("connections", num(float64(s.Connections))), "   ",
		kv("msgs/s in", rate(func(r *rates) float64 { return r.msgsIn }, num)), " ",
		kv("out", rate(func(r *rates) float64 { return r.msgsOut }, num)), "   ",
		kv("bytes/s in", rate(func(r *rates) float64 { return r.bytesIn }, size)), " ",
		kv("out", rate(func(r *rates) float64 { return r.bytesOut }, size)), "   ",
		drops)
	line(st.key.Render("handshakes"), " ", handshakes(s.Handshakes), "   ", broker(st, s.Broker, r))
	if r == nil {
		if once {
			line(st.faint.Render("(rates need two snapshots: run nows top without --once)"))
		} else {
			line(st.faint.Render("(rates from the next snapshot)"))
		}
	}
	b.WriteString("\n")

	// The routes, busiest first.
	routes := append([]Route(nil), s.Routes...)
	sort.SliceStable(routes, func(i, j int) bool {
		if routes[i].Connections != routes[j].Connections {
			return routes[i].Connections > routes[j].Connections
		}
		return routes[i].Route < routes[j].Route
	})
	var rows [][]string
	for i, x := range routes {
		if i == maxRoutes {
			rest := routes[maxRoutes:]
			var conns int64
			for _, y := range rest {
				conns += y.Connections
			}
			rows = append(rows, []string{fmt.Sprintf("… %d more routes", len(rest)), num(float64(conns)), "", "", "", "", ""})
			break
		}
		rr, ok := routeRates{}, false
		if r != nil {
			rr, ok = r.routes[x.Route]
		}
		cellRate := func(v float64, format func(float64) string) string {
			if !ok {
				return "-"
			}
			return format(v)
		}
		rows = append(rows, []string{
			cut(x.Route), num(float64(x.Connections)),
			cellRate(rr.msgsIn, num), cellRate(rr.msgsOut, num),
			cellRate(rr.bytesIn, size), cellRate(rr.bytesOut, size),
			avgHook(x.Hooks),
		})
	}
	if len(rows) == 0 {
		line(st.faint.Render("no routes"))
	} else {
		b.WriteString(table(st, []string{"ROUTE", "CONNS", "MSGS/S IN", "MSGS/S OUT", "BYTES/S IN", "BYTES/S OUT", "AVG HOOK"}, rows))
	}
	b.WriteString("\n")

	// The close codes, most frequent first.
	closes := append([]Close(nil), s.Closes...)
	sort.SliceStable(closes, func(i, j int) bool { return closes[i].Count > closes[j].Count })
	var total int64
	for _, c := range closes {
		total += c.Count
	}
	rows = rows[:0]
	for i, c := range closes {
		if i == maxCloses {
			var n int64
			for _, x := range closes[maxCloses:] {
				n += x.Count
			}
			rows = append(rows, []string{"", fmt.Sprintf("… %d more", len(closes)-maxCloses), num(float64(n)), ""})
			break
		}
		rows = append(rows, []string{strconv.Itoa(c.Code), cut(c.Cause), num(float64(c.Count)), share(c.Count, total)})
	}
	if len(rows) == 0 {
		line(st.faint.Render("no connection closed yet"))
	} else {
		b.WriteString(table(st, []string{"CLOSE", "CAUSE", "COUNT", "SHARE"}, rows))
	}
	b.WriteString("\n")

	// The largest rooms.
	rooms := s.Rooms
	if rooms.Count == 0 {
		line(kv("rooms", "0"))
		return b.String()
	}
	line(kv("rooms", num(float64(rooms.Count))), "   ", kv("members", num(float64(rooms.Members))),
		st.faint.Render(fmt.Sprintf("   the %d largest:", len(rooms.Largest))))
	rows = rows[:0]
	for _, x := range rooms.Largest {
		rows = append(rows, []string{cut(x.Room), num(float64(x.Members)), share(x.Members, rooms.Members)})
	}
	if len(rows) > 0 {
		b.WriteString(table(st, []string{"ROOM", "MEMBERS", "SHARE"}, rows))
	}
	return b.String()
}

func handshakes(h map[string]int64) string {
	var rejected int64
	var codes []string
	for code, n := range h {
		if code != "101" {
			rejected += n
			codes = append(codes, code)
		}
	}
	sort.Strings(codes)
	s := num(float64(h["101"])) + " accepted, " + num(float64(rejected)) + " rejected"
	if len(codes) > 0 {
		var parts []string
		for _, c := range codes {
			parts = append(parts, c+": "+num(float64(h[c])))
		}
		s += " (" + strings.Join(parts, ", ") + ")"
	}
	return s
}

func broker(st styles, b Broker, r *rates) string {
	k := st.key.Render("broker") + " "
	if !b.Configured {
		return k + st.faint.Render("none (one node)")
	}
	state := st.good.Render("ok")
	if !b.OK {
		state = st.bad.Render("error")
	}
	s := k + state + ", " + num(float64(b.Published)) + " published"
	if r != nil {
		s += " (" + num(r.published) + "/s)"
	}
	errs := num(float64(b.PublishErrors)) + " publish errors"
	if b.PublishErrors > 0 {
		errs = st.bad.Render(errs)
	}
	s += ", " + errs
	if b.Error != "" {
		s += ": " + st.bad.Render(b.Error)
	}
	return s
}

// table aligns rows under headers, two spaces apart; the first column is
// left-aligned, the others right-aligned, except a column whose header is
// CAUSE or ROOM.
func table(st styles, headers []string, rows [][]string) string {
	w := make([]int, len(headers))
	for i, h := range headers {
		w[i] = lipgloss.Width(h)
	}
	for _, r := range rows {
		for i, c := range r {
			w[i] = max(w[i], lipgloss.Width(c))
		}
	}
	left := func(i int) bool { return i == 0 || headers[i] == "CAUSE" || headers[i] == "ROOM" }
	format := func(cells []string, style *lipgloss.Style) string {
		var b strings.Builder
		for i, c := range cells {
			pad := strings.Repeat(" ", w[i]-lipgloss.Width(c))
			if style != nil {
				c = style.Render(c)
			}
			if i > 0 {
				b.WriteString("  ")
			}
			if left(i) {
				b.WriteString(c + pad)
			} else {
				b.WriteString(pad + c)
			}
		}
		return strings.TrimRight(b.String(), " ") + "\n"
	}
	out := format(headers, &st.head)
	for _, r := range rows {
		out += format(r, nil)
	}
	return out
}

func avgHook(hooks map[string]Hook) string {
	var n int64
	var sum float64
	for _, h := range hooks {
		n += h.Count
		sum += h.SumSeconds
	}
	if n == 0 {
		return "-"
	}
	return seconds(sum / float64(n))
}

func share(n, total int64) string {
	if total <= 0 {
		return "-"
	}
	return strconv.FormatFloat(float64(n)*100/float64(total), 'f', 1, 64) + "%"
}

func cut(s string) string {
	if r := []rune(s); len(r) > maxName {
		return string(r[:maxName-1]) + "…"
	}
	return s
}

// num formats a count or a rate as the dashboard does: 950, 1.2k, 34.5k,
// 100k, 1.2M, 3.4G.
func num(v float64) string {
	a := math.Abs(v)
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return "-"
	case a < 10 && v != math.Round(v):
		return strconv.FormatFloat(v, 'f', 1, 64)
	case a < 1000:
		return strconv.FormatFloat(math.Round(v), 'f', 0, 64)
	}
	for _, u := range []struct {
		s string
		d float64
	}{{"G", 1e9}, {"M", 1e6}, {"k", 1e3}} {
		if a >= u.d {
			return scaled(v/u.d) + u.s
		}
	}
	return "-"
}

// size formats a number of bytes with decimal units: 512 B, 6.4 kB, 3.4 MB.
func size(v float64) string {
	for _, u := range []struct {
		s string
		d float64
	}{{"GB", 1e9}, {"MB", 1e6}, {"kB", 1e3}} {
		if math.Abs(v) >= u.d {
			return scaled(v/u.d) + " " + u.s
		}
	}
	return strconv.FormatFloat(math.Round(v), 'f', 0, 64) + " B"
}

// scaled prints x with one decimal below 100, none from 100.
func scaled(x float64) string {
	if math.Abs(x) < 100 {
		return strconv.FormatFloat(x, 'f', 1, 64)
	}
	return strconv.FormatFloat(math.Round(x), 'f', 0, 64)
}

// seconds formats a duration in seconds: 850ns, 12µs, 3.4ms, 1.2s.
func seconds(s float64) string {
	switch {
	case s < 1e-6:
		return strconv.FormatFloat(math.Round(s*1e9), 'f', 0, 64) + "ns"
	case s < 1e-5:
		return strconv.FormatFloat(s*1e6, 'f', 1, 64) + "µs"
	case s < 1e-3:
		return strconv.FormatFloat(math.Round(s*1e6), 'f', 0, 64) + "µs"
	case s < 1e-2:
		return strconv.FormatFloat(s*1e3, 'f', 1, 64) + "ms"
	case s < 1:
		return strconv.FormatFloat(math.Round(s*1e3), 'f', 0, 64) + "ms"
	}
	return strconv.FormatFloat(s, 'f', 1, 64) + "s"
}

// uptime formats d coarsely: 42s, 5m3s, 2h5m, 3d4h.
func uptime(d time.Duration) string {
	s := int64(max(0, d.Seconds()))
	days, s := s/86400, s%86400
	h, s := s/3600, s%3600
	m, s := s/60, s%60
	switch {
	case days > 0:
		return fmt.Sprintf("%dd%dh", days, h)
	case h > 0:
		return fmt.Sprintf("%dh%dm", h, m)
	case m > 0:
		return fmt.Sprintf("%dm%ds", m, s)
	}
	return fmt.Sprintf("%ds", s)
}
