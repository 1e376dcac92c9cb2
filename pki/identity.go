package pki

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
)

// Roles a principal can hold. What each may do is package authz's business;
// here they are only names a certificate may carry.
const (
	RoleSubmitter = "submitter"
	RoleAnalyst   = "analyst"
	RoleAuditor   = "auditor"
	RoleAdmin     = "admin"
)

// Roles lists every role, in the order tools show them.
var Roles = []string{RoleSubmitter, RoleAnalyst, RoleAuditor, RoleAdmin}

// TrustDomain is the SPIFFE trust domain of chemledger identities.
const TrustDomain = "chemledger"

// GatewayURI is the URI SAN of the service's own HTTP gateway, which dials
// the gRPC server as a client.
const GatewayURI = "spiffe://" + TrustDomain + "/gateway"

// IdentityURIPrefix starts every member identity URI; the member id follows.
const IdentityURIPrefix = "spiffe://" + TrustDomain + "/member/"

// MemberIDPattern is what a member id looks like (a country code, a dash,
// an agency: "MX-ANAM"), the one pattern the members file, registry
// entries and certificates are held to; a certificate naming anything else
// could never match a member, so it is refused early.
var MemberIDPattern = regexp.MustCompile(`^[A-Z]{2}-[A-Z0-9][A-Z0-9-]{0,30}$`)

// ErrNoIdentity is wrapped by every error that says a certificate names no
// valid chemledger identity.
var ErrNoIdentity = errors.New("certificate names no valid chemledger identity")

// Identity is who a client certificate names.
//
// URI SAN forms: "spiffe://chemledger/member/MX-ANAM" (the member in any of
// its roles: Role == ""), "spiffe://chemledger/member/MX-ANAM/analyst" (the
// member acting in one role) and "spiffe://chemledger/gateway" (the
// service's own HTTP gateway: Gateway == true). A certificate without any URI
// SAN may name a member by its Subject CommonName instead: "MX-ANAM" or
// "MX-ANAM/analyst".
type Identity struct {
	Member  string
	Role    string // "" = every role the members file grants
	Gateway bool
	Serial  string // certificate serial number, lower-case hex, for revocation
}

// String is "MX-ANAM/analyst", "MX-ANAM" or "gateway".
func (id Identity) String() string {
	switch {
	case id.Gateway:
		return "gateway"
	case id.Role == "":
		return id.Member
	default:
		return id.Member + "/" + id.Role
	}
}

// URI is the URI SAN naming member in role ("" for every role). It does not
// validate; IdentityOf does, on the certificate.
func URI(member, role string) string {
	if role == "" {
		return IdentityURIPrefix + member
	}
	return IdentityURIPrefix + member + "/" + role
}

// IdentityOf returns the identity cert names. When the certificate has URI
// SANs, exactly one of them must be a spiffe://chemledger URI (others are
// ignored) and it alone decides; the CommonName is consulted only when there
// is no URI SAN at all, so a URI that fails to parse never falls back to a
// more permissive name.
func IdentityOf(cert *x509.Certificate) (Identity, error) {
	if cert == nil {
		return Identity{}, fmt.Errorf("%w: no certificate", ErrNoIdentity)
	}
	if cert.SerialNumber == nil {
		return Identity{}, fmt.Errorf("%w: certificate has no serial number", ErrNoIdentity)
	}
	id, err := nameOf(cert)
	if err != nil {
		return Identity{}, fmt.Errorf("%w: %w", ErrNoIdentity, err)
	}
	id.Serial = cert.SerialNumber.Text(16)
	return id, nil
}

func nameOf(cert *x509.Certificate) (Identity, error) {
	if len(cert.URIs) == 0 {
		return fromCommonName(cert.Subject.CommonName)
	}
	var ours []*url.URL
	var foreign []string
	for _, u := range cert.URIs {
		if u.Scheme == "spiffe" && u.Hostname() == TrustDomain {
			ours = append(ours, u)
			continue
		}
		foreign = append(foreign, fmt.Sprintf("URI SAN %q: %s", u, whyForeign(u)))
	}
	switch len(ours) {
	case 0:
		return Identity{}, errors.New(strings.Join(foreign, "; "))
	case 1:
		return fromURI(ours[0])
	default:
		return Identity{}, fmt.Errorf("%d spiffe://%s URI SANs (%s), want exactly one", len(ours), TrustDomain, joinURIs(ours))
	}
}

func whyForeign(u *url.URL) string {
	if u.Scheme != "spiffe" {
		return fmt.Sprintf("scheme %q, want spiffe", u.Scheme)
	}
	return fmt.Sprintf("trust domain %q, want %q", u.Hostname(), TrustDomain)
}

func joinURIs(us []*url.URL) string {
	s := make([]string, len(us))
	for i, u := range us {
		s[i] = u.String()
	}
	return strings.Join(s, ", ")
}

func fromURI(u *url.URL) (Identity, error) {
	bad := func(format string, args ...any) (Identity, error) {
		return Identity{}, fmt.Errorf("URI SAN %q: %s", u, fmt.Sprintf(format, args...))
	}
	switch {
	case u.User != nil:
		return bad("user info not allowed")
	case u.Port() != "":
		return bad("port not allowed")
	case u.RawQuery != "" || u.ForceQuery:
		return bad("query not allowed")
	case u.Fragment != "":
		return bad("fragment not allowed")
	}
	segs := strings.Split(strings.TrimPrefix(u.Path, "/"), "/")
	var id Identity
	switch {
	case u.Path == "/gateway":
		id = Identity{Gateway: true}
	case segs[0] == "member" && len(segs) == 2:
		var err error
		if id, err = memberRole(segs[1], "", false); err != nil {
			return bad("%v", err)
		}
	case segs[0] == "member" && len(segs) == 3:
		var err error
		if id, err = memberRole(segs[1], segs[2], true); err != nil {
			return bad("%v", err)
		}
	case segs[0] == "member":
		return bad("%d path segments, want /member/<ID> or /member/<ID>/<role>", len(segs))
	default:
		return bad("path %q, want /member/<ID>, /member/<ID>/<role> or /gateway", u.Path)
	}
	// Percent-encodings and the like decode to a valid identity yet are not
	// the name the CA meant to sign; only the canonical spelling counts.
	want := GatewayURI
	if !id.Gateway {
		want = URI(id.Member, id.Role)
	}
	if u.String() != want {
		return bad("not in canonical form %q", want)
	}
	return id, nil
}

func fromCommonName(cn string) (Identity, error) {
	if cn == "" {
		return Identity{}, errors.New("no URI SAN and no subject common name")
	}
	member, role, hasRole := strings.Cut(cn, "/")
	id, err := memberRole(member, role, hasRole)
	if err != nil {
		return Identity{}, fmt.Errorf("subject common name %q (no URI SAN): %w", cn, err)
	}
	return id, nil
}

// memberRole validates a member id and, when hasRole, a role.
func memberRole(member, role string, hasRole bool) (Identity, error) {
	if !MemberIDPattern.MatchString(member) {
		return Identity{}, fmt.Errorf("member %q does not match %s", member, MemberIDPattern)
	}
	switch {
	case !hasRole:
		return Identity{Member: member}, nil
	case role == "":
		return Identity{}, errors.New("empty role")
	case strings.Contains(role, "/"):
		return Identity{}, fmt.Errorf("role %q has extra segments", role)
	case !slices.Contains(Roles, role):
		return Identity{}, fmt.Errorf("unknown role %q, want one of %s", role, strings.Join(Roles, ", "))
	}
	return Identity{Member: member, Role: role}, nil
}
