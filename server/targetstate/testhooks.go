package targetstate

import "time"

// SetNotifyDelay makes the cache wait d before applying each notification, as the listener
// of a busy replica would lag; tests use it to show that nothing depends on its promptness.
func (c *Cache) SetNotifyDelay(d time.Duration) { c.notifyDelay.Store(int64(d)) }
