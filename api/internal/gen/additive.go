package main

// addOperations adds the operations the broker serves beyond the reference (additive),
// each marked x-brokkr-additive, with their schemas; neither may exist in the reference.
func (f *fixer) addOperations() {
	schemas := f.schemas()
	if _, ok := schemas["AdminPakResponse"]; ok {
		f.failf("additive schema AdminPakResponse already exists in the reference")
	}
	schemas["AdminPakResponse"] = object(obj{
		"pak": str("The new admin PAK, shown only once."),
		"pak_hash": str("SHA-256 of the new key's long token: the value broker.pak_hash must hold for the key " +
			"to outlive a restart when broker.pak_hash is configured."),
		"warning": str("Present when broker.pak_hash is configured: it wins at every start, so the old key " +
			"comes back at the next start unless broker.pak_hash is changed."),
	}, []string{"pak", "pak_hash"}, "A freshly minted admin PAK.")

	paths := f.child(f.doc, "paths", "document")
	if _, ok := paths["/admin/rotate-pak"]; ok {
		f.failf("additive path /admin/rotate-pak already exists in the reference")
	}
	paths["/admin/rotate-pak"] = obj{"post": obj{
		"operationId": "rotate_admin_pak",
		"tags":        []any{"Admin"},
		"responses": obj{"200": obj{
			"description": "The new admin PAK; the old one no longer authenticates on any replica.",
			"content":     obj{"application/json": obj{"schema": ref("AdminPakResponse")}},
		}},
		"x-brokkr-additive": true,
	}}
}
