package derive

// Observer is told of every flag the detector raises for the first time
// (not a flag raised again, nor a disposition), once it is stored. It lets
// the server count flags by rule without derive knowing how; it runs on
// the detector's goroutine, so it must return quickly.
type Observer interface {
	FlagRaised(ruleID string)
}

// Observe makes o the detector's observer (nil: none).
func (d *Deriver) Observe(o Observer) {
	if o == nil {
		d.observer.Store(nil)
		return
	}
	d.observer.Store(&o)
}
