# Base policy, applied to every tenant: an action needs a token scope that grants it, and
# user-delegated actions need a user behind the token. Default deny.
package mandate.base

# The one document mandate reads: {"allow": bool, "reasons": [{"code", "message"}]}.
decision := {"allow": allow, "reasons": [r | some r in reasons]}

default allow := false

# Both: a grant, and no reason against (a delegation failure denies even with the right scope).
allow if {
	count(reasons) == 0
	not exchange_request
	not mcp_request
	count(granting_scopes_held) > 0
}

# A token exchange is granted by the scopes it asks for, not by a scope named after the action
# (exchange.rego holds its rules).
allow if {
	count(reasons) == 0
	exchange_request
}

# An MCP message is granted by the scopes mcp.rego asks of it.
allow if {
	count(reasons) == 0
	mcp_request
}

# Scopes the caller holds that grant the action: the action itself, or one mapped to it.
granting_scopes_held contains scope if {
	some scope in input.subject.scopes
	scope in granting_scopes
}

# Every scope that would grant the action (named in the denial so callers know what to ask for).
granting_scopes contains input.action

granting_scopes contains scope if {
	some scope, patterns in data.scope_grants
	some pattern in patterns
	matches(pattern, input.action)
}

# A pattern is an exact action or a prefix wildcard such as `billing.*`.
matches(pattern, action) if pattern == action

matches(pattern, action) if {
	endswith(pattern, ".*")
	startswith(action, trim_suffix(pattern, "*"))
}

# Actions on a person's own data (base data `user_delegated_actions`): an agent may only do these
# on behalf of a user who delegated to it, never on its own authority.
user_delegated if {
	some pattern in data.user_delegated_actions
	matches(pattern, input.action)
}

# A client-credentials token: no user, or the client acting as itself.
service_identity if not input.subject.sub

service_identity if input.subject.sub == ""

service_identity if input.subject.sub == input.subject.client_id

action_given if is_string(input.action)

reasons contains {"code": "policy_denied", "message": "the request names no action"} if {
	not action_given
}

reasons contains {"code": "insufficient_scope", "message": msg} if {
	action_given
	not exchange_request
	not mcp_request
	count(granting_scopes_held) == 0
	msg := concat("", [
		"action '", input.action, "' needs one of the scopes: ",
		concat(", ", granting_scopes),
	])
}

reasons contains {"code": "delegation_required", "message": msg} if {
	user_delegated
	service_identity
	msg := concat("", [
		"action '", input.action,
		"' acts on a user's data and needs a token issued for a user, not a service's own token",
	])
}
