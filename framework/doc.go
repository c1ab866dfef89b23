// Package framework is nows: a WebSocket server framework with blueprints,
// typed routes, one handler value per connection, rooms and the checks of
// RFC 6455, over github.com/coder/websocket; the Go successor of the Python
// framework NoWebsocket.
//
// A [Blueprint] groups routes: [Route] binds a template with typed
// parameters ("/room/{id:int}") to a handler type, [RouteFunc] to a
// constructor that passes the app's dependencies on. A fresh handler value
// serves each connection; its hooks are optional interfaces
// ([OpenHandler], [MessageHandler], [BinaryHandler], [CloseHandler],
// [HandshakeHandler]) that run one at a time. [Server.Register] rejects
// what would fail later: two routes matching the same paths, a method
// named like a hook with another signature. [Run] serves an app in one
// call, with the limits of [Options] bound to flags by
// [Options.BindFlags]. Close codes and message types are coder/websocket's.
//
// Every server has a [Hub] of rooms; with a [Broker] (framework/broker)
// they span every node. framework/events adds typed events, framework/wstest
// tests over real sockets; the guide is in the repository's docs/.
package framework
