package nativemsg_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cardbridge/cardbridge/bridge"
	"github.com/cardbridge/cardbridge/bridge/bridgetest"
	"github.com/cardbridge/cardbridge/bridge/nativemsg"
)

// lockedBuffer is the host's stdout: the session writes from several
// goroutines, one at a time.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) Bytes() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return bytes.Clone(l.b.Bytes())
}

func frames(msgs ...string) []byte {
	var b bytes.Buffer
	for _, m := range msgs {
		nativemsg.WriteFrame(&b, []byte(m))
	}
	return b.Bytes()
}

// FuzzHostInput feeds arbitrary bytes to a host as its stdin: length
// prefixes, truncation, oversized claims, invalid UTF-8 and JSON. The host
// must not panic, must end once its input ends, and may only write
// well-formed frames of JSON objects within the browser's limit.
func FuzzHostInput(f *testing.F) {
	openMsg := `{"cardbridge":"open","protocol":1,"origin":"https://portal.example"}`
	for _, seed := range [][]byte{
		frames(openMsg),
		frames(openMsg, `{"id":1,"method":"version"}`, `{"id":2,"method":"readers"}`),
		frames(openMsg, `{"id":1,"method":"identity"}`, `{"id":2,"method":"cancel","params":{"id":1}}`),
		frames(openMsg, "{\"id\":1,\"method\":\"version\xff\"}"),
		frames(openMsg, `{"id":1,`),
		frames(openMsg, `[]`, `null`, ``),
		frames(`{"cardbridge":"open","protocol":1,"origin":"http://portal.example"}`),
		frames(`{"cardbridge":"open","protocol":"1","origin":"https://portal.example"}`),
		frames(`{"id":1,"method":"identity"}`),
		append(frames(openMsg), 0xff, 0xff, 0xff, 0x7f),
		append(frames(openMsg), 0x10, 0x00),
		append(frames(openMsg), frames(`{"id":1,"method":"version","params":{"x":"`+strings.Repeat("a", 70000)+`"}}`)...),
		{},
		{0, 0, 0, 0},
	} {
		f.Add(seed)
	}
	core := newCore(f, &bridgetest.Prompter{}, false, func(c *bridge.Config) {
		c.AllowedOrigins = []string{"https://portal.example"}
		c.Limits = bridge.Limits{RequestTimeout: 2 * time.Second}
	})
	f.Fuzz(func(t *testing.T, in []byte) {
		out := &lockedBuffer{}
		done := make(chan struct{})
		go func() {
			defer close(done)
			nativemsg.Serve(context.Background(), core, bytes.NewReader(in), out)
		}()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Fatalf("host did not end after its input ended: %q", in)
		}
		r := bytes.NewReader(out.Bytes())
		for r.Len() > 0 {
			msg, err := nativemsg.ReadFrame(r, nativemsg.MaxToBrowser)
			if err != nil {
				t.Fatalf("input %q: host wrote a bad frame: %v", in, err)
			}
			var m map[string]any
			if err := json.Unmarshal(msg, &m); err != nil {
				t.Fatalf("input %q: host wrote %q, not a JSON object", in, msg)
			}
		}
	})
}
