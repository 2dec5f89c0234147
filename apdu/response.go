package apdu

import (
	"errors"
	"fmt"
)

// ErrMalformedResponse is returned for a response shorter than its status
// word.
var ErrMalformedResponse = errors.New("apdu: malformed response")

// Response is a response APDU: data followed by the status word.
type Response struct {
	Data []byte
	SW   StatusWord
}

// ParseResponse splits a response APDU into data and status word. The data
// slice aliases b.
func ParseResponse(b []byte) (Response, error) {
	if len(b) < 2 {
		return Response{}, fmt.Errorf("%w: %d bytes, need at least 2", ErrMalformedResponse, len(b))
	}
	n := len(b) - 2
	return Response{Data: b[:n:n], SW: StatusWord(b[n])<<8 | StatusWord(b[n+1])}, nil
}

// Bytes encodes r as data followed by SW1 SW2.
func (r Response) Bytes() []byte {
	b := make([]byte, 0, len(r.Data)+2)
	b = append(b, r.Data...)
	return append(b, r.SW.SW1(), r.SW.SW2())
}

// Err returns the status word's error, nil for 9000.
func (r Response) Err() error { return r.SW.Err() }
