package framework_test

import (
	"log"

	"github.com/nowebsocket/nows/framework"
	redisbroker "github.com/nowebsocket/nows/framework/broker/redisbroker"
	"github.com/redis/go-redis/v9"
)

// Why a member left: here, with a node lost without a goodbye (killed,
// or cut off from the broker).
func ExampleHub_Watch() {
	hub := framework.NewHub(framework.HubOptions{Broker: framework.NewMemoryBroker()})
	defer hub.Close()
	stop := hub.Watch(func(ev framework.PresenceEvent) {
		if !ev.Joined && ev.Reason == framework.LeaveNodeLost {
			log.Printf("%s lost with node %s", ev.Member.User, ev.Member.Node)
		}
	})
	defer stop()
}

// A Redis primary with replicas and Sentinel: go-redis's failover client
// asks Sentinel for the primary and follows a failover.
func Example_redisSentinel() {
	rdb := redis.NewFailoverClient(&redis.FailoverOptions{
		MasterName:    "mymaster",
		SentinelAddrs: []string{"10.0.0.1:26379", "10.0.0.2:26379", "10.0.0.3:26379"},
	})
	defer rdb.Close() // after the server has shut down
	b := redisbroker.New(rdb, redisbroker.Options{Prefix: "hello:"})
	srv := framework.NewServer(framework.Options{Hub: framework.HubOptions{Broker: b}})
	_ = srv
}
