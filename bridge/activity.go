package bridge

import "time"

// Action is what a site did with the card, as the tray's activity list
// tells it.
type Action string

// Actions recorded, one per successful request of their method.
const (
	ActionIdentity     Action = "identity"     // read the identity
	ActionAddress      Action = "address"      // read the address
	ActionPhoto        Action = "photo"        // read the photo
	ActionCertificates Action = "certificates" // read the certificates
	ActionLogin        Action = "authenticate" // logged in with the card
	ActionSign         Action = "sign"         // signed a document
)

// Activity is one thing a site did with the card. It holds nothing read
// from the card: no name, no national number, and nothing of the PIN.
type Activity struct {
	Time   time.Time
	Origin string
	Action Action
}

// ActivityRecorder receives the activity, for the tray. Record must not
// block: it runs on the request's goroutine.
type ActivityRecorder interface {
	Record(Activity)
}

// actionOf maps a method to the action it records, if any.
func actionOf(method string) (Action, bool) {
	switch Action(method) {
	case ActionIdentity, ActionAddress, ActionPhoto, ActionCertificates, ActionLogin, ActionSign:
		return Action(method), true
	}
	return "", false
}
