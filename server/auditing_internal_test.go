package server

import (
	"net/http"
	"slices"
	"testing"

	"google.golang.org/grpc/codes"

	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
)

// TestResourcesOf: an audit record names what was asked for as the HTTP
// path would, with only the parameters that were set (a page token with no
// filter once came out as "entries&page_token=…").
func TestResourcesOf(t *testing.T) {
	for _, tc := range []struct {
		req  any
		want string
	}{
		{&chemledgerv1.ListEntriesRequest{PageToken: "t"}, "entries?page_token=t"},
		{&chemledgerv1.ListEntriesRequest{Filter: `member = "US-CBP"`, PageToken: "t"}, `entries?filter=member = "US-CBP"&page_token=t`},
		{&chemledgerv1.ListFlagsRequest{OrderBy: "severity desc"}, "flags?order_by=severity desc"},
		{&chemledgerv1.ListFlagsRequest{}, "flags"},
		{&chemledgerv1.GetStatsRequest{Filter: `country = "MX"`}, `stats?filter=country = "MX"`},
		{&chemledgerv1.GetEntryRequest{Index: 7}, "entries/7"},
	} {
		if got := resourcesOf(tc.req); !slices.Equal(got, []string{tc.want}) {
			t.Errorf("resourcesOf(%T %v) = %q, want %q", tc.req, tc.req, got, tc.want)
		}
	}
}

// TestHTTPCode: every status the HTTP side can answer with maps back to the
// gRPC code it stands for, in the audit record of a request refused before
// it reached the gRPC side.
func TestHTTPCode(t *testing.T) {
	for status, want := range map[int]codes.Code{
		0: codes.OK, http.StatusOK: codes.OK, http.StatusBadRequest: codes.InvalidArgument,
		http.StatusUnauthorized: codes.Unauthenticated, http.StatusForbidden: codes.PermissionDenied,
		http.StatusNotFound: codes.NotFound, http.StatusConflict: codes.AlreadyExists,
		http.StatusMethodNotAllowed: codes.Unimplemented, http.StatusNotImplemented: codes.Unimplemented,
		http.StatusRequestEntityTooLarge: codes.ResourceExhausted, http.StatusTooManyRequests: codes.ResourceExhausted,
		http.StatusInsufficientStorage: codes.ResourceExhausted, http.StatusServiceUnavailable: codes.Unavailable,
		http.StatusInternalServerError: codes.Unknown, http.StatusTeapot: codes.Unknown,
	} {
		if got := httpCode(status); got != want {
			t.Errorf("httpCode(%d) = %v, want %v", status, got, want)
		}
	}
}
