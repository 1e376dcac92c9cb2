package validate

import (
	"net/url"
	"regexp"

	"github.com/chemledger/chemledger/internal/filter"
	v1 "github.com/chemledger/chemledger/proto/chemledger/v1"
)

// MaxWebhookURL bounds a webhook's URL.
const MaxWebhookURL = 2048

var webhookID = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// webhook checks a subscription: an id, an HTTPS URL with a host and no
// credentials in it (they would be in the log for every member to read),
// and a filter in the WatchEntries grammar.
func (c *checker) webhook(w *v1.Webhook) {
	if !webhookID.MatchString(w.GetId()) {
		c.add("registry.webhook.id", "must be 1 to 64 letters, digits and \"-_.\"")
	}
	if w.GetRemoved() {
		return
	}
	u, err := url.Parse(w.GetUrl())
	switch {
	case len(w.GetUrl()) > MaxWebhookURL:
		c.add("registry.webhook.url", "must be at most %d bytes", MaxWebhookURL)
	case err != nil || u.Scheme != "https" || u.Host == "":
		c.add("registry.webhook.url", "must be an https:// URL with a host")
	case u.User != nil:
		c.add("registry.webhook.url", "must not carry credentials: the log is read by every member")
	}
	if _, err := filter.Conds(w.GetFilter(), filter.WatchFields); err != nil {
		c.add("registry.webhook.filter", "%v", err)
	}
}
