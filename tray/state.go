package tray

import (
	"embed"
	"runtime"
)

// State is what the tray icon shows at a glance. The daemon sends a new
// State whenever readers, cards or the smart card service change, and
// StateBusy while it talks to a card.
type State int

// States, roughly from worst to best.
const (
	StateStarting    State = iota // daemon starting, nothing known yet
	StateNoService                // the OS smart card service (pcscd, SCardSvr) is not running
	StateNoReader                 // service up, no reader connected
	StateNoCard                   // reader(s) connected, no Belgian eID inserted
	StateCardPresent              // a Belgian eID is in a reader
	StateBusy                     // the daemon is using the card
)

var stateNames = [...]string{"starting", "noservice", "noreader", "nocard", "card", "busy"}

// String returns a short stable name, also the icon's file name.
func (s State) String() string {
	if s < 0 || int(s) >= len(stateNames) {
		return "unknown"
	}
	return stateNames[s]
}

// messageKey is the i18n key of the state's description.
func (s State) messageKey() string { return "state." + s.String() }

//go:generate go run ./internal/genicons -out icons
//go:embed icons/*.png icons/*.ico
var icons embed.FS

// Icon returns the state's icon in the format the platform's tray wants:
// ICO on Windows, PNG elsewhere.
func (s State) Icon() []byte {
	ext := ".png"
	if runtime.GOOS == "windows" {
		ext = ".ico"
	}
	b, err := icons.ReadFile("icons/" + s.String() + ext)
	if err != nil {
		b, _ = icons.ReadFile("icons/starting" + ext)
	}
	return b
}
