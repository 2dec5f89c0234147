// Package bridge is protocol v1 of the cardbridge daemon, which lets a web
// page (an identity portal) use a Belgian eID card in the user's reader.
// docs/protocol.md is the full description of the protocol and of its
// security model.
//
// The protocol itself is the Core: given a page's origin, as the browser
// stated it, and a stream of JSON messages, it admits the page (origin
// policy, consent, limits) and serves its session (methods, PIN gate,
// per-reader serialisation, events). Transports are thin adapters over
// it: Server, the localhost WebSocket, in this package; the native
// messaging host elsewhere. They share one Core, so one consent store,
// one dialog queue and one lock per reader serve every session.
//
// A Server listens on the loopback interfaces only. Before the WebSocket
// upgrade it checks the Host header (against DNS rebinding) and the Origin
// header (https pages; plain http only for listed developer origins), and
// refuses connections beyond its limits. Only origins the user allowed get
// a session: those configured or stored as allowed connect at once; for
// any other the handshake waits while the user is asked, through a
// Prompter, and is refused with HTTP 403 unless the user allows it. PIN
// and signature operations then ask the user every time. The Prompter is
// the only way anything gets approved: with none configured, everything
// is denied.
//
// Cards are reached through the Readers interface: package pcscreaders
// implements it over PC/SC, package simreaders over simulated cards for
// tests. Package bridgetest has a scripted Prompter for tests.
//
// A minimal daemon:
//
//	srv, err := bridge.New(bridge.Config{
//		Readers:  pcscreaders.New(),
//		Prompter: myNativeDialogs,
//		Consents: myConsentFile,
//	})
//	if err != nil { ... }
//	err = srv.ListenAndServe(ctx) // until ctx is done
package bridge
