// Package web embeds the browser side of cardbridge, so that Go programs
// (the demo portal) can serve it without a copy on disk: the client module
// cardbridge.js, its type declarations, and the demo portal's pages in
// demo/. The JavaScript itself needs no build step and no Go.
package web

import "embed"

// Files holds cardbridge.js, cardbridge.d.ts and demo/.
//
//go:embed cardbridge.js cardbridge.d.ts demo
var Files embed.FS
