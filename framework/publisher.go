package framework

import (
	"context"
	"fmt"
)

// Publisher broadcasts to the rooms of the servers that share a Broker,
// from a process that serves no WebSocket (a worker, a cron job):
//
//	pub := framework.NewPublisher(broker)
//	err := pub.Broadcast(ctx, "lobby", framework.Text("maintenance at noon"))
//
// Its methods are safe for concurrent use. Unlike the hub's, they publish
// synchronously and return the broker's error.
type Publisher struct {
	broker Broker
	node   string
}

// NewPublisher returns a Publisher that publishes through b.
func NewPublisher(b Broker) *Publisher {
	return &Publisher{broker: b, node: "pub-" + newNodeID()}
}

// Broadcast sends m to every member of room on every node.
func (p *Publisher) Broadcast(ctx context.Context, room string, m Message) error {
	if room == "" {
		return ErrBadRoom
	}
	return p.send(ctx, m, &envelope{kind: kindRoom, room: room})
}

// BroadcastAll sends m to every connection of every node.
func (p *Publisher) BroadcastAll(ctx context.Context, m Message) error {
	return p.send(ctx, m, &envelope{kind: kindAll})
}

func (p *Publisher) send(ctx context.Context, m Message, e *envelope) error {
	if err := m.check(); err != nil {
		return err
	}
	e.node, e.typ, e.data = p.node, m.Type, m.Data
	return p.publish(ctx, e)
}

// DisconnectRoom closes every connection in room on every node.
func (p *Publisher) DisconnectRoom(ctx context.Context, room string, code StatusCode, reason string) error {
	return p.disconnect(ctx, kindDisconnectRoom, room, code, reason)
}

// DisconnectUser closes every connection of user on every node.
func (p *Publisher) DisconnectUser(ctx context.Context, user string, code StatusCode, reason string) error {
	return p.disconnect(ctx, kindDisconnectUser, user, code, reason)
}

func (p *Publisher) disconnect(ctx context.Context, kind byte, key string, code StatusCode, reason string) error {
	if key == "" {
		return ErrBadRoom
	}
	if err := checkClose(code, reason); err != nil {
		return err
	}
	return p.publish(ctx, &envelope{kind: kind, node: p.node, room: key, user: reason, code: uint16(code)})
}

func (p *Publisher) publish(ctx context.Context, e *envelope) error {
	if err := p.broker.Publish(ctx, hubTopic, encodeEnvelope(e)); err != nil {
		return fmt.Errorf("%w: publish: %w", ErrBroker, err)
	}
	return nil
}
