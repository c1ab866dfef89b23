// Package framework is nows: a WebSocket server framework with blueprints,
// typed routes, one handler value per connection and the protocol checks of
// RFC 6455, over github.com/coder/websocket. It is the Go successor of the
// Python framework NoWebsocket.
//
// # Blueprints and routes
//
// A [Blueprint] groups routes under a prefix. Each route binds a path
// template to a handler type with [Route]:
//
//	var Chat = framework.NewBlueprint("/chat",
//		framework.Route[Room]("/room/{room_id:str}"),
//	)
//
// Keep one blueprint per file (chat_bp.go); the nows CLI generates the list
// of them (blueprints.All) so that main registers them all with
// [Server.Register]. Templates use typed parameters: {name:type} (or
// {type:name}), {name} for a str, {name...} for the rest of the path. The
// types are str, int, float, uuid, path, plus [Options.ParamTypes]. A value
// that does not parse does not match (404). The most specific route wins:
// static segments, then typed parameters, then str, then path. Two routes
// that match the same paths conflict: the later blueprint is skipped with a
// warning, or with [Options.Strict] registration fails.
//
// # Handlers
//
// A fresh handler value is made for each connection; its fields are that
// connection's state. Hooks are optional interfaces on its pointer type:
// [HandshakeHandler], [OpenHandler], [MessageHandler], [BinaryHandler] and
// [CloseHandler]. Hooks of one connection run one at a time; a hook's error
// or panic closes its connection with 1011 (or the code of a [CloseError])
// and never harms the server.
//
// # Connections
//
// [Conn] sends text, binary and JSON from any goroutine, closes with a code
// and reason, and gives the route's typed [Params], the handshake request,
// the client address and a key/value store.
//
// # Limits
//
// [Options] holds the limits, each with a safe default: MaxHeaderBytes
// (4096, else 431), MaxMessageBytes (2 MiB, else 1009 as soon as a header
// announces more), ReadTimeout (1800 s idle, then 1001), HandshakeTimeout
// (10 s), WriteTimeout (10 s), same-origin browsers only (else 403).
// Invalid UTF-8 text closes with 1007, protocol violations with 1002.
// Optional limits: MessageRate and ByteRate per connection (else 1008 and
// [CauseRateLimit]), MaxConns and MaxConnsPerIP (else 503 with
// Retry-After). See docs/security.md and docs/reliability.md.
//
// # Shutdown
//
// [Server.Shutdown] stops accepting, closes every connection with 1001
// Going Away through the close handshake, runs every OnClose and returns
// when no connection goroutine is left. [Server.ListenAndServe] does this
// by itself when its context ends.
//
// # Rooms and broadcast
//
// Every server has a [Hub] ([Server.Hub], [Conn.Hub]): a connection joins
// rooms with [Conn.Join] (and leaves them by itself when it ends), and
// [Hub.Broadcast], [Hub.BroadcastAll] and [Conn.BroadcastOthers] send a
// [Message] ([Text], [Binary], [JSON]) to their members. Broadcasts go
// through each connection's bounded send queue ([QueueOptions]: close
// with 1013, drop or block when full), so a slow client never stalls the
// others. With a [Broker] in [HubOptions] (NATS and Redis adapters under
// framework/broker), rooms, presence ([Hub.Members], [Hub.Subscribe]) and
// disconnects ([Hub.DisconnectUser]) span every node, and a [Publisher]
// broadcasts from processes without WebSocket. See docs/rooms.md.
//
// # Testing
//
// Package [github.com/nowebsocket/nows/framework/wstest] serves blueprints
// on 127.0.0.1 in a test and gives a client that expects text, binary, JSON
// and close codes with bounded waits.
package framework
