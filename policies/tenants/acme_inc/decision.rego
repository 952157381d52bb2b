# acme_inc narrows the base policy for AI agents: some actions are reserved to named agents, some
# are closed to agents altogether. Calls made by people (no agent involved) are not affected.
package mandate.tenant

# Allow unless a narrowing rule below produces a reason; base has already granted the scope.
decision := {"allow": count(reasons) == 0, "reasons": [r | some r in reasons]}

# The agents involved in the call: every actor in the delegation chain except acme_inc's own
# services (data.services: a service such as the CRM exchanging a token to reach billing joins the
# chain without being an agent), plus the token's client when it is a registered agent (an agent
# calling with its own client-credentials token has no `act` chain). Checking every agent in the chain, not just the current one, stops a trusted agent
# from being used to launder a call for an untrusted one.
agents contains actor if {
	some actor in input.subject.act
	not actor in data.services
}

agents contains input.subject.client_id if {
	input.subject.client_id in data.agents
}

via_agent if count(agents) > 0

reasons contains {"code": "policy_denied", "message": msg} if {
	via_agent
	input.action in data.agent_forbidden_actions
	msg := concat("", [
		"acme_inc does not let AI agents perform '", input.action,
		"'; a person must do this directly",
	])
}

reasons contains {"code": "policy_denied", "message": msg} if {
	some agent in agents
	allowed := data.agent_reserved_actions[input.action]
	not agent in allowed
	msg := concat("", [
		"in acme_inc only the agent(s) ", concat(", ", allowed),
		" may perform '", input.action, "', not '", agent, "'",
	])
}

# Token exchange: agents may reach an audience listed in data.agent_exchange_scopes only with
# scopes listed for it, asked for explicitly (an exchange asking for no scope would get every scope
# the authorization server allows for the audience).
reasons contains {"code": "policy_denied", "message": msg} if {
	input.action == "token.exchange"
	via_agent
	allowed := data.agent_exchange_scopes[input.resource.id]
	not scopes_within(object.get(input.resource, ["attributes", "scopes"], []), allowed)
	msg := concat("", [
		"in acme_inc agents may only reach ", input.resource.id,
		" with the scope(s) ", concat(", ", allowed),
	])
}

scopes_within(requested, allowed) if {
	count(requested) > 0
	every scope in requested {
		scope in allowed
	}
}
