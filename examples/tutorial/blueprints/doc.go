// Package blueprints holds the WebSocket routes of chat, one blueprint
// per *_bp.go file: a variable, var X = framework.NewBlueprint(...), or,
// when its handlers need what the app shares (Deps, in deps.go), a
// constructor, func X(d *Deps) *framework.Blueprint.
//
// All(d *Deps), in registry_gen.go, lists them for the server; nows
// registry (run by nows blueprint add, nows run and go generate) keeps it
// up to date.
package blueprints

//go:generate nows registry
