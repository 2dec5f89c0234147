// Command client is a test client that otheruser runs as another OS user.
// It prints one line saying what it got:
//
//	client uid                      print its uid
//	client unix PATH ORIGIN         open a native-messaging relay session
//	client ws HOST:PORT ORIGIN      send a WebSocket handshake to /v1
package main

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Println("usage: client uid | unix PATH ORIGIN | ws HOST:PORT ORIGIN")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "uid":
		fmt.Printf("uid: %d\n", os.Getuid())
	case "unix":
		relay(os.Args[2], os.Args[3])
	case "ws":
		handshake(os.Args[2], os.Args[3])
	}
}

func relay(path, origin string) {
	c, err := net.DialTimeout("unix", path, 5*time.Second)
	if err != nil {
		fmt.Printf("dial: %v\n", err)
		return
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	open, _ := json.Marshal(map[string]any{"cardbridge": "open", "protocol": 1, "origin": origin})
	msg := []byte("cardbridge-relay/1\n")
	msg = binary.NativeEndian.AppendUint32(msg, uint32(len(open)))
	msg = append(msg, open...)
	if _, err := c.Write(msg); err != nil {
		fmt.Printf("write: %v\n", err)
		return
	}
	var hdr [4]byte
	if _, err := io.ReadFull(c, hdr[:]); err != nil {
		fmt.Printf("read: %v\n", err)
		return
	}
	b := make([]byte, min(binary.NativeEndian.Uint32(hdr[:]), 1<<20))
	io.ReadFull(c, b)
	fmt.Printf("message: %s\n", b)
}

func handshake(addr, origin string) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		fmt.Printf("dial: %v\n", err)
		return
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(c, "GET /v1 HTTP/1.1\r\nHost: %s\r\nOrigin: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n", addr, origin)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		fmt.Printf("read: %v\n", err)
		return
	}
	fmt.Printf("status: %d\n", resp.StatusCode)
}
