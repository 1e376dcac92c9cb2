package client

import (
	"context"
	"fmt"

	"github.com/chemledger/chemledger/checkpoint"
	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
)

// InclusionProofAt returns the inclusion proof of index in the tree cp
// commits to, after checking it against cp: what a case file bundles.
func (c *Client) InclusionProofAt(ctx context.Context, index uint64, cp checkpoint.Checkpoint, leafHash []byte) ([][]byte, error) {
	p, err := c.rpc.GetInclusionProof(ctx, &chemledgerv1.GetInclusionProofRequest{Index: index, TreeSize: cp.Size})
	if err != nil {
		return nil, fmt.Errorf("inclusion proof of entry %d at size %d: %w", index, cp.Size, err)
	}
	if err := cp.VerifyInclusion(index, leafHash, p.GetHashes()); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrVerification, err)
	}
	return p.GetHashes(), nil
}
