// Package bridge is the cardbridge daemon's WebSocket server: protocol v1,
// which lets a web page (an identity portal) use a Belgian eID card in the
// user's reader. docs/protocol.md is the full description of the protocol
// and of its security model.
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
