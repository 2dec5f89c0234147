package apdu_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/cardbridge/cardbridge/apdu"
)

// A T=0 card that answers READ BINARY with 61xx, as many cards behind a
// T=0 reader do: the data has to be fetched with GET RESPONSE. Exchange
// does that and hands back the whole response.
func ExampleExchange() {
	file := []byte("BELPIC identity file")
	card := apdu.TransmitterFunc(func(ctx context.Context, cmd []byte) ([]byte, error) {
		fmt.Printf("> % X\n", cmd)
		var resp []byte
		switch {
		case cmd[1] == apdu.InsReadBinary && cmd[4] == 0x00: // Le 256: "data waiting"
			resp = []byte{0x61, byte(len(file))}
		case cmd[1] == apdu.InsGetResponse:
			resp = append(file[:cmd[4]:cmd[4]], 0x90, 0x00)
		default:
			resp = []byte{0x6D, 0x00}
		}
		fmt.Printf("< % X\n", resp[max(0, len(resp)-2):])
		return resp, nil
	})

	read := apdu.Command{INS: apdu.InsReadBinary, Le: 256}
	resp, err := apdu.Exchange(context.Background(), card, read)
	if err != nil {
		fmt.Println("exchange failed:", err)
		return
	}
	fmt.Printf("%s: %q\n", resp.SW, resp.Data)
	// Output:
	// > 00 B0 00 00 00
	// < 61 14
	// > 00 C0 00 00 14
	// < 90 00
	// 9000 (success): "BELPIC identity file"
}

// Run turns a status word other than 9000 into an error that can be matched
// with errors.Is against the package's sentinels, or unpacked with errors.As.
// The command's data (here a PIN block) never appears in the message.
func ExampleRun() {
	card := apdu.TransmitterFunc(func(ctx context.Context, cmd []byte) ([]byte, error) {
		if bytes.Equal(cmd, []byte{0x00, 0x20, 0x00, 0x01, 0x08, 0x24, 0x12, 0x34, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}) {
			return []byte{0x90, 0x00}, nil
		}
		return []byte{0x63, 0xC2}, nil // wrong PIN, two tries left
	})

	verify := apdu.Command{INS: apdu.InsVerify, P2: 0x01, Data: []byte{0x24, 0x99, 0x99, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}}
	_, err := apdu.Run(context.Background(), card, verify)
	fmt.Println(err)
	var se *apdu.StatusError
	if errors.Is(err, apdu.ErrVerificationFailed) && errors.As(err, &se) {
		n, _ := se.SW.RetriesLeft()
		fmt.Println("tries left:", n)
	}
	// Output:
	// 00 20 00 01 Lc=8 Le=0: apdu: card returned 63C2 (verification failed, 2 tries left)
	// tries left: 2
}

func ExampleCommand_Bytes() {
	for _, c := range []apdu.Command{
		{INS: apdu.InsSelect, P1: 0x08, P2: 0x0C, Data: []byte{0xDF, 0x01, 0x40, 0x31}}, // case 3
		{INS: apdu.InsReadBinary, Le: 256},                                              // case 2, Le 256 is 00
		{INS: apdu.InsReadBinary, Le: 1024},                                             // switches to extended form
		{CLA: 0x80, INS: 0xE4, P2: 0x01, Le: 0x1C, Extended: true},                      // extended on request
	} {
		b, err := c.Bytes()
		fmt.Printf("% X %v\n", b, err)
	}
	// Output:
	// 00 A4 08 0C 04 DF 01 40 31 <nil>
	// 00 B0 00 00 00 <nil>
	// 00 B0 00 00 00 04 00 <nil>
	// 80 E4 00 01 00 00 1C <nil>
}

func ExampleParseBER() {
	// A public key template as the BELPIC 1.8 applet returns it.
	data := []byte{0x7F, 0x49, 0x05, 0x86, 0x03, 0x04, 0xAA, 0xBB, 0x00, 0x00}
	key, found, err := apdu.FindBER(data, 0x7F49)
	if err != nil || !found {
		fmt.Println("no key template:", err)
		return
	}
	point, _, _ := apdu.FindBER(key, 0x86)
	fmt.Printf("point: % X\n", point)
	// Output:
	// point: 04 AA BB
}
