package client

import (
	"context"
	"net/http"
)

// AdminPAKResponse is the result of POST /admin/rotate-pak.
type AdminPAKResponse struct {
	// PAK is the new admin PAK, shown only once.
	PAK string `json:"pak"`
	// PAKHash is the hash of the new key, the value broker.pak_hash must hold for the key to
	// survive a restart of a broker that configures it.
	PAKHash string `json:"pak_hash"`
	// Warning, when set, says the rotation will not outlive the next start of the broker
	// (broker.pak_hash is configured and wins at every start).
	Warning string `json:"warning,omitempty"`
}

// RotatePAK replaces the admin PAK: the broker mints a new one and the old key stops working
// on every replica (admin, not the read-only key). The client keeps using the key it was
// built with; build a new client with the returned PAK.
func (a *Admin) RotatePAK(ctx context.Context) (AdminPAKResponse, error) {
	return call[AdminPAKResponse](ctx, a.c, request{method: http.MethodPost, path: "/admin/rotate-pak"})
}
