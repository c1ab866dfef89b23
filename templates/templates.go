// Package templates holds the files that nows new, nows blueprint add and
// nows handler add render, embedded in the nows binary.
//
// Layout:
//
//	project/    one file per file of a new project (nows new)
//	blueprint/  a blueprint file, its test, and the snippets that
//	            nows handler add appends to them
//
// A file whose name ends in .tmpl is a text/template rendered with the
// hermetic sprig functions (missingkey=error); the suffix is dropped.
// Other files are copied as they are. Go sources and go.mod are only kept
// as .tmpl files so that they neither build nor nest a module here.
package templates

import "embed"

// FS holds the project/ and blueprint/ trees.
//
//go:embed all:project all:blueprint
var FS embed.FS
