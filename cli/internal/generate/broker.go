package generate

import (
	"fmt"
	"strings"
)

// Broker is a broker that nows new --broker wires into main.go: the app
// gets a --broker URL flag (env NOWS_BROKER), empty for the in-process hub
// alone, and imports this adapter and no other.
type Broker struct {
	Name    string   // the value of --broker: nats or redis
	Title   string   // for people: NATS, Redis
	Package string   // the adapter's package name, such as natsbroker
	Import  string   // the adapter's import path
	Schemes []string // the URL prefixes main.go accepts, the first one shown in messages
	URL     string   // a local server's URL, for the README, the Makefile and hints
	Sep     string   // what follows the app's name in the topic prefix: "." for NATS, ":" for Redis
	Topics  string   // what the broker calls topics: subjects, channels
	Server  string   // the command that starts a local server on URL
	Install string   // how to get that server
}

// Brokers are the brokers nows new --broker knows, by name.
var Brokers = []Broker{
	{
		Name: "nats", Title: "NATS", Package: "natsbroker",
		Import:  "github.com/nowebsocket/nows/framework/broker/natsbroker",
		Schemes: []string{"nats://"},
		URL:     "nats://127.0.0.1:4222", Sep: ".", Topics: "subjects",
		Server:  "nats-server -a 127.0.0.1 -p 4222",
		Install: "go install github.com/nats-io/nats-server/v2@latest, or docker run --rm -p 4222:4222 nats",
	},
	{
		Name: "redis", Title: "Redis", Package: "redisbroker",
		Import:  "github.com/nowebsocket/nows/framework/broker/redisbroker",
		Schemes: []string{"redis://", "rediss://"},
		URL:     "redis://127.0.0.1:6379", Sep: ":", Topics: "channels",
		Server:  "redis-server --bind 127.0.0.1 --port 6379 --save ''",
		Install: "apt install redis-server, brew install redis, or docker run --rm -p 6379:6379 redis",
	},
}

// LookupBroker returns the broker called name ("" for none: nil).
func LookupBroker(name string) (*Broker, error) {
	if name == "" {
		return nil, nil
	}
	names := make([]string, len(Brokers))
	for i := range Brokers {
		if Brokers[i].Name == name {
			b := Brokers[i]
			return &b, nil
		}
		names[i] = Brokers[i].Name
	}
	return nil, fmt.Errorf("--broker %q: choose one of %s (or leave --broker out for the in-process hub alone)",
		name, strings.Join(names, ", "))
}
