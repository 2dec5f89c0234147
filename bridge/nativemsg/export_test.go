package nativemsg

// NewTestStream exposes the host's stream to the package's tests.
var NewTestStream = newStream
