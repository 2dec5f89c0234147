package config

import "github.com/cardbridge/cardbridge/bridge"

// Store must keep satisfying the bridge's interface.
var _ bridge.ConsentStore = (*Store)(nil)
