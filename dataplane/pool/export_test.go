package pool

// Abandon drops p as kill -9 would: nothing more is written.
func Abandon(p *Pool) { p.abandon() }
