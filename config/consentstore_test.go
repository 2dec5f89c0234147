package config_test

import (
	"github.com/cardbridge/cardbridge/bridge"
	"github.com/cardbridge/cardbridge/config"
)

// Store must keep satisfying the bridge's interfaces: the consents, and
// the sites the user blocked, kept across restarts.
var (
	_ bridge.ConsentStore = (*config.Store)(nil)
	_ bridge.SiteBlocker  = (*config.Store)(nil)
)
