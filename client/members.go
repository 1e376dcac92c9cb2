package client

import (
	"context"
	"fmt"

	"github.com/chemledger/chemledger/envelope"
	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
)

// SubmitRegistry signs a registry entry (a licence, a watch-list entry, a
// member joining or leaving, a key or a role) as a binary protobuf envelope
// and submits it; see SubmitEnvelope. Member changes need the admin role.
func (c *Client) SubmitRegistry(ctx context.Context, submissionID string, r *chemledgerv1.RegistryEntry, signer envelope.Signer) (*Receipt, error) {
	payload, err := deterministic.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("encode registry entry: %w", err)
	}
	env, err := envelope.Sign(envelope.PayloadTypeRegistryProto, payload, signer)
	if err != nil {
		return nil, err
	}
	return c.SubmitEnvelope(ctx, submissionID, env)
}

// Members returns the member registry as the log defines it now: each
// member's status, roles and keys, and the entries that changed them.
func (c *Client) Members(ctx context.Context) (*chemledgerv1.ListMembersResponse, error) {
	resp, err := c.rpc.ListMembers(ctx, &chemledgerv1.ListMembersRequest{})
	if err != nil {
		return nil, fmt.Errorf("list members: %w", err)
	}
	return resp, nil
}
