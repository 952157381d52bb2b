# Delegation chains (RFC 8693 `act`, flattened by mandate into input.subject.act, outermost first):
# a bounded depth for every tenant and, for tenants listed in base data, only known current actors.
package mandate.base

# RFC 8693 §4.1: only the outermost actor (the party acting now) is used for access control; the
# nested actors are informational (mandate records them in audit). The depth bound counts every
# actor anyway: it is a sanity limit on the token's shape, not a decision about who acted.
reasons contains {"code": "policy_denied", "message": msg} if {
	count(input.subject.act) > data.delegation.max_depth
	msg := concat("", [
		"the delegation chain has ", format_int(count(input.subject.act), 10),
		" actors; at most ", format_int(data.delegation.max_depth, 10), " are allowed",
	])
}

# Tenants listed in data.delegation.allowed_actors name who may act for their users; an actor
# outside the list is refused. Tenants not listed accept any actor their issuer vouches for.
reasons contains {"code": "policy_denied", "message": msg} if {
	allowed := data.delegation.allowed_actors[input.tenant]
	actor := input.subject.act[0]
	not actor in allowed
	msg := concat("", ["'", actor, "' is not an allowed actor in tenant ", input.tenant])
}
