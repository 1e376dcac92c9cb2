// Package authz is the authorisation matrix: for every RPC and every role,
// what records a caller may touch. It is written once, here, as a table;
// the server enforces it in one interceptor and the handlers that serve
// "own" or "redacted" answers ask it which they must give. What is not in
// the table is denied.
//
// It must not read certificates or the members file; it is given a role and
// answers from the table.
package authz

import (
	"fmt"
	"slices"
	"strings"

	"github.com/chemledger/chemledger/pki"
)

// Scope is what a role may touch through one RPC.
type Scope int

// Scopes, from nothing to everything.
const (
	// Deny: the role may not call the RPC.
	Deny Scope = iota
	// Own: only the caller member's own records (its entries, its
	// signatures); a request for another member's record is denied as if
	// it did not exist.
	Own
	// Hashes: every record, but entries without their content (index,
	// leaf hash, member, time): what an auditor needs to check the tree.
	Hashes
	// Any: every record.
	Any
)

func (s Scope) String() string {
	return [...]string{"deny", "own", "hashes", "any"}[s]
}

// Services' full names, for the table.
const (
	ledgerSvc  = "/chemledger.v1.LedgerService/"
	analystSvc = "/chemledger.v1.AnalystService/"
	adminSvc   = "/chemledger.v1.AdminService/"
	auditSvc   = "/chemledger.v1.AuditService/"
	scoreSvc   = "/chemledger.v1.ScorecardService/"
	healthSvc  = "/grpc.health.v1.Health/"
	reflectSvc = "/grpc.reflection.v1.ServerReflection/"
)

// row is one RPC's line of the matrix: the scope per role, in the order
// submitter, analyst, auditor, admin.
type row struct {
	method string
	scopes [4]Scope
}

// matrix is the authorisation table. Reasons, by line:
//   - Submitters write only as themselves and read back only their own
//     entries; analysts record dispositions (signed by themselves); admins
//     append registry entries (members, keys, roles) as themselves.
//   - Checkpoints and proofs carry only hashes and are what every client
//     verifies its receipts with, so every role may read them; so may the
//     member registry, whose public keys every verifier needs, and the
//     tlog-tiles hash tiles (witnesses and monitors among them). Entry
//     bundles hold every member's entries: only analysts, who read any
//     entry, may fetch them (a mirror follows with an analyst certificate).
//   - Flags, shipments and statistics are intelligence: analysts only.
//     The rule catalogue and the reference data the rules judge by are
//     public: every role.
//   - Auditors read the tree's entries as hashes, and the audit trail.
//   - A watch delivers what the list would: the same scopes.
//   - The scorecard is for the coalition's reviews: analysts, and auditors,
//     who check it. Its figures are aggregates and its drill-down names
//     entries only by index, leaf hash and signer (what an auditor sees of
//     any entry), so neither is intelligence a submitter should read.
//   - Health is for every authenticated caller; reflection describes only
//     the public API.
var matrix = []row{
	{ledgerSvc + "CreateEntry", [4]Scope{Own, Deny, Deny, Own}},
	{ledgerSvc + "BulkCreateEntries", [4]Scope{Own, Deny, Deny, Own}},
	{ledgerSvc + "GetEntry", [4]Scope{Own, Any, Hashes, Own}},
	{ledgerSvc + "ListEntries", [4]Scope{Own, Any, Hashes, Own}},
	{ledgerSvc + "WatchEntries", [4]Scope{Own, Any, Hashes, Own}},
	{ledgerSvc + "ListWebhooks", [4]Scope{Own, Own, Own, Own}},
	{ledgerSvc + "GetLog", [4]Scope{Any, Any, Any, Any}},
	{ledgerSvc + "GetCheckpoint", [4]Scope{Any, Any, Any, Any}},
	{ledgerSvc + "GetInclusionProof", [4]Scope{Any, Any, Any, Any}},
	{ledgerSvc + "GetConsistencyProof", [4]Scope{Any, Any, Any, Any}},
	{ledgerSvc + "ListMembers", [4]Scope{Any, Any, Any, Any}},
	{ledgerSvc + "GetTile", [4]Scope{Any, Any, Any, Any}},
	{ledgerSvc + "GetEntryBundle", [4]Scope{Deny, Any, Deny, Deny}},
	{analystSvc + "ListFlags", [4]Scope{Deny, Any, Deny, Deny}},
	{analystSvc + "WatchFlags", [4]Scope{Deny, Any, Deny, Deny}},
	{analystSvc + "GetFlag", [4]Scope{Deny, Any, Deny, Deny}},
	{analystSvc + "CreateDisposition", [4]Scope{Deny, Own, Deny, Deny}},
	{analystSvc + "ListRules", [4]Scope{Any, Any, Any, Any}},
	{analystSvc + "GetShipment", [4]Scope{Deny, Any, Deny, Deny}},
	{analystSvc + "GetStats", [4]Scope{Deny, Any, Deny, Deny}},
	{analystSvc + "GetReference", [4]Scope{Any, Any, Any, Any}},
	{scoreSvc + "GetScorecard", [4]Scope{Deny, Any, Any, Deny}},
	{scoreSvc + "ListScorecardEntries", [4]Scope{Deny, Any, Any, Deny}},
	{adminSvc + "RebuildDerivedState", [4]Scope{Deny, Deny, Deny, Any}},
	// A backup holds every entry and every audit record: the operator's.
	{adminSvc + "Backup", [4]Scope{Deny, Deny, Deny, Any}},
	{auditSvc + "ListAuditRecords", [4]Scope{Deny, Deny, Any, Deny}},
	{healthSvc + "Check", [4]Scope{Any, Any, Any, Any}},
	{healthSvc + "Watch", [4]Scope{Any, Any, Any, Any}},
	{healthSvc + "List", [4]Scope{Any, Any, Any, Any}},
	{reflectSvc + "ServerReflectionInfo", [4]Scope{Any, Any, Any, Any}},
	{"/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", [4]Scope{Any, Any, Any, Any}},
}

var byMethod = func() map[string][4]Scope {
	m := make(map[string][4]Scope, len(matrix))
	for _, r := range matrix {
		if _, dup := m[r.method]; dup {
			panic("authz: " + r.method + " twice in the matrix")
		}
		m[r.method] = r.scopes
	}
	return m
}()

func roleIndex(role string) int { return slices.Index(pki.Roles, role) }

// Principal is an authenticated caller: a member acting in one or more
// roles. Insecure marks the development mode without TLS, where nobody is
// authenticated and everything is allowed (loudly logged at start).
type Principal struct {
	Member   string
	Roles    []string
	Insecure bool
	// Serial is the serial of the certificate the caller presented, for
	// revocation checks after the handshake.
	Serial string
}

// String names the principal in audit records and errors.
func (p Principal) String() string {
	if p.Insecure {
		return "insecure-dev"
	}
	return p.Member + "/" + strings.Join(p.Roles, "+")
}

// Has reports whether p holds role.
func (p Principal) Has(role string) bool { return p.Insecure || slices.Contains(p.Roles, role) }

// Decide returns the widest scope any of p's roles gives for method: a
// member that is both submitter and analyst reads entries as an analyst.
func Decide(p Principal, method string) Scope {
	if p.Insecure {
		return Any
	}
	scopes, ok := byMethod[method]
	if !ok {
		return Deny
	}
	best := Deny
	for _, r := range p.Roles {
		if i := roleIndex(r); i >= 0 {
			best = max(best, scopes[i])
		}
	}
	return best
}

// Methods lists the methods in the table.
func Methods() []string {
	out := make([]string, len(matrix))
	for i, r := range matrix {
		out[i] = r.method
	}
	return out
}

// Table renders the matrix as text, one method per line: what the golden
// file holds and what operators read.
func Table() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-62s", "method")
	for _, r := range pki.Roles {
		fmt.Fprintf(&b, " %-9s", r)
	}
	b.WriteString("\n")
	for _, r := range matrix {
		fmt.Fprintf(&b, "%-62s", r.method)
		for _, s := range r.scopes {
			fmt.Fprintf(&b, " %-9s", s)
		}
		b.WriteString("\n")
	}
	return b.String()
}
