package webeid

import (
	"sync"
	"time"
)

// ocspCache keeps accepted OCSP answers until they expire, at most max of
// them. When full it drops expired entries, then the one closest to
// expiry: entries are few and all short-lived, so a scan is cheap and
// there is no order to maintain.
type ocspCache struct {
	max int

	mu sync.Mutex
	m  map[string]ocspStatus
}

func newOCSPCache(max int) *ocspCache {
	return &ocspCache{max: max, m: make(map[string]ocspStatus)}
}

func (c *ocspCache) get(key string, now time.Time) (ocspStatus, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	st, ok := c.m[key]
	if !ok {
		return ocspStatus{}, false
	}
	if !now.Before(st.expires) {
		delete(c.m, key)
		return ocspStatus{}, false
	}
	return st, true
}

func (c *ocspCache) put(key string, st ocspStatus) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[key]; !ok && len(c.m) >= c.max {
		var victim string
		var soonest time.Time
		for k, e := range c.m {
			if victim == "" || e.expires.Before(soonest) {
				victim, soonest = k, e.expires
			}
		}
		delete(c.m, victim)
	}
	c.m[key] = st
}
