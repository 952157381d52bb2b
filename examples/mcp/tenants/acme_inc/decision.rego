# acme_inc's rules for AI agents reaching its MCP servers: each agent may call only the tools
# listed for it (data.agent_tools), and crm.search at most data.max_search_limit results at a time.
# People calling without an agent, and every non-tool MCP message, are left to the base policy.
package mandate.tenant

decision := {"allow": count(reasons) == 0, "reasons": [r | some r in reasons]}

# Every agent involved: each actor of the delegation chain, and the client when it is an agent.
agents contains actor if {
	some actor in input.subject.act
}

agents contains input.subject.client_id if {
	input.subject.client_id in object.keys(data.agent_tools)
}

tool_call if input.action == "mcp.tools/call"

reasons contains {"code": "policy_denied", "message": msg} if {
	tool_call
	some agent in agents
	not input.resource.id in object.get(data.agent_tools, agent, [])
	msg := concat("", ["in acme_inc the agent '", agent, "' may not call the tool '", input.resource.id, "'"])
}

# Arguments are known on a call, not when a list is filtered (`listing`): the tool stays listed.
reasons contains {"code": "policy_denied", "message": msg} if {
	tool_call
	input.resource.id == "crm.search"
	limit := input.context.mcp.arguments.limit
	limit > data.max_search_limit
	msg := sprintf("in acme_inc crm.search returns at most %d results at a time", [data.max_search_limit])
}
