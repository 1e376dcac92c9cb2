package server

import (
	"net/http"
	"strings"

	"google.golang.org/grpc/codes"

	"github.com/chemledger/chemledger/console"
)

// consoleHandler is the analyst console (package console) on the HTTPS
// listener. Its page names the caller the listener authenticated; what
// the caller may see is decided, as for any client, by the API calls the
// page then makes.
func consoleHandler() http.Handler {
	return console.Handler(func(r *http.Request) (string, []string) {
		c, ok := r.Context().Value(httpCallerKey{}).(*httpCaller)
		if !ok {
			return "", nil
		}
		if c.principal.Insecure {
			return "insecure-dev", nil
		}
		return c.principal.Member, c.principal.Roles
	})
}

// servedHere says whether the HTTP listener answers path itself (and so
// audits it itself): its local paths and every console page and asset, so
// a page view is in the audit trail like any read.
func servedHere(path string) bool {
	return local[path] || strings.HasPrefix(path, console.Prefix)
}

// crossOrigin refuses a state-changing request a browser sent from another
// site (Sec-Fetch-Site, or an Origin that is not this host). A browser
// sends the analyst's client certificate with any request to this host,
// so without it a page elsewhere could post a form to the API as the
// analyst; clients that are not browsers send neither header and pass.
var crossOrigin = http.NewCrossOriginProtection()

func crossOriginRefusal(r *http.Request) error {
	if err := crossOrigin.Check(r); err != nil {
		return withDetails(codes.PermissionDenied, "cross-origin request refused: "+err.Error(), ReasonCrossOrigin, nil)
	}
	return nil
}

// ReasonCrossOrigin is the ErrorInfo reason of a request refused by
// crossOriginRefusal.
const ReasonCrossOrigin = "CROSS_ORIGIN"
