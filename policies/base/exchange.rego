# Token exchange (RFC 8693) decisions. Before mandate exchanges a subject token at the
# authorization server it asks the action `token.exchange` with
#   resource: {"type": "audience", "id": <target audience>, "attributes": {"scopes": [...], "resource"?: <URI>}}
#   context:  {"actor": <mandate's own identity, the actor of the exchange>}
# An exchange may only narrow: it never asks for a scope the subject token does not hold.
package mandate.base

exchange_request if input.action == "token.exchange"

requested_scopes := object.get(input, ["resource", "attributes", "scopes"], [])

exchange_target if {
	input.resource.type == "audience"
	is_string(input.resource.id)
	input.resource.id != ""
}

reasons contains {"code": "policy_denied", "message": "an exchange must name its target audience"} if {
	exchange_request
	not exchange_target
}

# Never widening: every requested scope must already be held by the subject token.
reasons contains {"code": "insufficient_scope", "message": msg} if {
	exchange_request
	exchange_target
	missing := {s | some s in requested_scopes; not s in input.subject.scopes}
	count(missing) > 0
	msg := concat("", [
		"an exchange for '", input.resource.id,
		"' may only narrow the token's scopes; not held: ", concat(", ", sort(missing)),
	])
}

# The exchange adds mandate as the newest actor, so the chain it produces must fit the bound too.
reasons contains {"code": "policy_denied", "message": msg} if {
	exchange_request
	count(input.subject.act) + 1 > data.delegation.max_depth
	msg := concat("", [
		"exchanging would make the delegation chain longer than ",
		format_int(data.delegation.max_depth, 10), " actors",
	])
}

# RFC 8693 §4.4: a subject token with `may_act` names who may act for its subject; mandate (the
# actor of the exchange) must be the one it names.
reasons contains {"code": "policy_denied", "message": msg} if {
	exchange_request
	_ = input.claims.may_act
	not may_act_allowed
	msg := concat("", [
		"the subject token's may_act does not allow '", actor_name,
		"' to act for its subject",
	])
}

may_act_allowed if {
	is_string(input.context.actor)
	input.claims.may_act.sub == input.context.actor
}

actor_name := input.context.actor if is_string(input.context.actor)

else := "(unnamed)"
