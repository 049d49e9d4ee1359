package client_test

import (
	"testing"

	"github.com/brokkr/brokkr/client"
)

// TestReadOnlyPAKs: the admin mints a read-only key (shown once), lists it without the key
// and revokes it; the key reads but every change is a read_only refusal; names are unique
// among live keys, and an unknown id is read_only_pak_not_found.
func TestReadOnlyPAKs(t *testing.T) {
	b := newBroker(t)
	c := ctx(t)
	admin := b.client(b.admin)

	k := must(admin.ReadOnlyPAKs().Create(c, "dashboards"))(t)
	if k.PAK == "" || k.Name != "dashboards" || k.CreatedAt.IsZero() || k.CreatedAt.Location().String() != "UTC" {
		t.Fatalf("created %+v", k)
	}
	ro := b.client(k.PAK)
	if id := must(ro.Auth().Verify(c))(t); !id.Admin || !id.ReadOnly {
		t.Fatalf("identity %+v, want the read-only admin", id)
	}
	list := must(ro.ReadOnlyPAKs().List(c))(t)
	if len(list) != 1 || list[0] != k.ReadOnlyPAK {
		t.Fatalf("list %+v, want %+v", list, k.ReadOnlyPAK)
	}
	must(ro.Agents().List(c))(t)

	_, err := ro.ReadOnlyPAKs().Create(c, "more")
	if !client.IsReadOnlyRefusal(err) {
		t.Fatalf("create as the read-only key: %v", err)
	}
	if _, err := ro.Generators().Create(c, client.CreateGeneratorRequest{Name: "g"}); !client.IsReadOnlyRefusal(err) {
		t.Fatalf("create a generator as the read-only key: %v", err)
	}
	if err := ro.ReadOnlyPAKs().Revoke(c, k.ID); !client.IsReadOnlyRefusal(err) {
		t.Fatalf("revoke as the read-only key: %v", err)
	}
	if _, err := admin.ReadOnlyPAKs().Create(c, "dashboards"); !client.IsConflict(err) || !client.HasCode(err, "unique_violation") {
		t.Fatalf("a taken name: %v", err)
	}
	if _, err := admin.Generators().Get(c, k.ID); client.IsReadOnlyRefusal(err) {
		t.Fatalf("a 404 is not a read-only refusal: %v", err)
	}

	ok(t, admin.ReadOnlyPAKs().Revoke(c, k.ID))
	if _, err := ro.Auth().Verify(c); !client.IsUnauthorized(err) {
		t.Fatalf("revoked key: %v", err)
	}
	if err := admin.ReadOnlyPAKs().Revoke(c, k.ID); !client.IsNotFound(err) || !client.HasCode(err, "read_only_pak_not_found") {
		t.Fatalf("revoke twice: %v", err)
	}
	if list := must(admin.ReadOnlyPAKs().List(c))(t); len(list) != 0 {
		t.Fatalf("list after revocation %+v", list)
	}
}
