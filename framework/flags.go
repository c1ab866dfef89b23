package framework

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// flagState is what BindFlags leaves for Run and Serve.
type flagState struct {
	err    error // the first bad environment variable
	routes bool  // --routes: print the route table and exit
}

// BindFlags defines on fs a flag for the address and every limit of o,
// each also read from an environment variable (--addr and NOWS_ADDR...;
// -help lists them), and --routes (see Run). The flag wins over the
// variable, over o. Sizes take a KiB, MiB or GiB suffix. Parse fs before
// using o; Run reports a variable that does not parse.
func (o *Options) BindFlags(fs *flag.FlagSet) {
	o.flags = &flagState{}
	def := o.withDefaults()
	o.Addr, o.MaxHeaderBytes, o.MaxMessageBytes = def.Addr, def.MaxHeaderBytes, def.MaxMessageBytes
	o.ReadTimeout, o.HandshakeTimeout, o.WriteTimeout, o.ShutdownTimeout = def.ReadTimeout, def.HandshakeTimeout, def.WriteTimeout, def.ShutdownTimeout
	o.SendQueue = o.SendQueue.withDefaults(defaultQueue)

	b := binder{fs: fs, state: o.flags}
	b.bind(&stringFlag{&o.Addr}, "addr", "listen `address`, host:port")
	b.bind(&boolFlag{&o.ReusePort}, "reuse-port", "share the address with other processes that set this too (SO_REUSEPORT, Linux only): the kernel spreads connections among them")
	b.bind(&sizeFlag[int]{&o.MaxHeaderBytes}, "max-header-bytes", "largest handshake request in `bytes`; larger ones get HTTP 431")
	b.bind(&sizeFlag[int64]{&o.MaxMessageBytes}, "max-message-bytes", "largest message in `bytes`; larger ones close the connection with 1009")
	b.bind(&floatFlag{&o.MessageRate}, "message-rate", "`messages` per second one connection may send, else 1008 (0: no limit)")
	b.bind(&sizeFlag[int64]{&o.ByteRate}, "byte-rate", "`bytes` per second one connection may send, else 1008 (0: no limit)")
	b.bind(&sizeFlag[int]{&o.MaxConns}, "max-conns", "most WebSocket `connections` at once, else HTTP 503 (0: no limit)")
	b.bind(&sizeFlag[int]{&o.MaxConnsPerIP}, "max-conns-per-ip", "most WebSocket `connections` per client address, else HTTP 503 (0: no limit)")
	b.bind(&durationFlag{&o.ReadTimeout}, "read-timeout", "close connections idle for this `duration` with 1001 (negative: never)")
	b.bind(&durationFlag{&o.HandshakeTimeout}, "handshake-timeout", "drop clients that take longer than this `duration` to send the handshake")
	b.bind(&durationFlag{&o.WriteTimeout}, "write-timeout", "drop clients that take no data for this `duration` (negative: never)")
	b.bind(&durationFlag{&o.ShutdownTimeout}, "shutdown-timeout", "the longest `duration` of a graceful shutdown")
	b.bind(&durationFlag{&o.PingInterval}, "ping-interval", "ping connections quiet for this `duration` and drop those that do not answer (0: off)")
	b.bind(&durationFlag{&o.PongTimeout}, "pong-timeout", "close with 1001 a connection whose pong is later than this `duration` (0: the ping interval)")
	b.bind(&listFlag{&o.AllowedOrigins}, "origins", "comma-separated host `patterns` of the other sites whose pages may connect (default: same origin only)")
	b.bind(&boolFlag{&o.Compression}, "compression", "enable permessage-deflate")
	b.bind(&sizeFlag[int]{&o.SendQueue.MaxMessages}, "queue-messages", "`messages` of broadcasts that may wait for one slow client")
	b.bind(&sizeFlag[int]{&o.SendQueue.MaxBytes}, "queue-bytes", "`bytes` of broadcasts that may wait for one slow client")
	b.bind(&policyFlag{&o.SendQueue.Policy}, "queue-policy", "the `policy` of a full send queue: close (1013, the default), drop or block")
	fs.BoolVar(&o.flags.routes, "routes", false, "print the route table as JSON lines and exit")
}

// binder defines flags and applies their environment variables.
type binder struct {
	fs    *flag.FlagSet
	state *flagState
}

func (b binder) bind(v flag.Value, name, usage string) {
	env := "NOWS_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
	if s, ok := os.LookupEnv(env); ok {
		if err := v.Set(s); err != nil && b.state.err == nil {
			b.state.err = fmt.Errorf("framework: environment variable %s=%q: %w (unset it, or give --%s)", env, s, err, name)
		}
	}
	b.fs.Var(v, name, usage+" (env "+env+")")
}

// check returns the error BindFlags found, if any.
func (f *flagState) check() error {
	if f == nil {
		return nil
	}
	return f.err
}

type stringFlag struct{ p *string }

func (f *stringFlag) String() string     { return str(f.p) }
func (f *stringFlag) Set(s string) error { *f.p = s; return nil }

type boolFlag struct{ p *bool }

func (f *boolFlag) String() string   { return strconv.FormatBool(f.p != nil && *f.p) }
func (f *boolFlag) IsBoolFlag() bool { return true }
func (f *boolFlag) Set(s string) error {
	v, err := strconv.ParseBool(s)
	if err != nil {
		return errors.New("want true or false")
	}
	*f.p = v
	return nil
}

type floatFlag struct{ p *float64 }

func (f *floatFlag) String() string {
	if f.p == nil {
		return "0"
	}
	return strconv.FormatFloat(*f.p, 'g', -1, 64)
}

func (f *floatFlag) Set(s string) error {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || v < 0 {
		return errors.New("want a number, 0 or more")
	}
	*f.p = v
	return nil
}

type durationFlag struct{ p *time.Duration }

func (f *durationFlag) String() string {
	if f.p == nil {
		return "0s"
	}
	return f.p.String()
}

func (f *durationFlag) Set(s string) error {
	v, err := time.ParseDuration(s)
	if err != nil {
		return errors.New("want a duration such as 10s or 1m30s")
	}
	*f.p = v
	return nil
}

// sizeFlag is a count of bytes (or of anything): a number, with an
// optional KiB, MiB or GiB suffix.
type sizeFlag[T int | int64] struct{ p *T }

func (f *sizeFlag[T]) String() string {
	if f.p == nil {
		return "0"
	}
	return strconv.FormatInt(int64(*f.p), 10)
}

func (f *sizeFlag[T]) Set(s string) error {
	num, mult := s, int64(1)
	for suffix, m := range map[string]int64{"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30} {
		if n, ok := strings.CutSuffix(s, suffix); ok {
			num, mult = strings.TrimSpace(n), m
		}
	}
	v, err := strconv.ParseInt(num, 10, 64)
	if err != nil || v < 0 || v > (1<<62)/mult {
		return errors.New("want a whole number, 0 or more, optionally with KiB, MiB or GiB")
	}
	*f.p = T(v * mult)
	return nil
}

type listFlag struct{ p *[]string }

func (f *listFlag) String() string {
	if f.p == nil {
		return ""
	}
	return strings.Join(*f.p, ",")
}

func (f *listFlag) Set(s string) error {
	*f.p = nil
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			*f.p = append(*f.p, item)
		}
	}
	return nil
}

type policyFlag struct{ p *QueuePolicy }

func (f *policyFlag) String() string {
	if f.p == nil || *f.p == 0 {
		return QueueClose.String()
	}
	return f.p.String()
}

func (f *policyFlag) Set(s string) error {
	for _, p := range []QueuePolicy{QueueClose, QueueDrop, QueueBlock} {
		if s == p.String() {
			*f.p = p
			return nil
		}
	}
	return errors.New("want close, drop or block")
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
