# MCP decisions. The MCP proxy asks `mcp.<method>` for each JSON-RPC message a client sends
# (`mcp.tools/call`, `mcp.resources/read`, `mcp.prompts/get`, `mcp.initialize`, ...), with
#   resource: {"type": "tool" | "prompt" | "resource", "id": <name or URI>} when the method names one
#   context:  {"mcp": {"method", "arguments"?, "session_id"?, "resource": <canonical URI>, "listing"?}}
# and asks the same of every item of a list answer (`listing: true`, no arguments) to filter it.
# The token's audience is already bound to the resource by the pipeline. A message needs every
# scope in data.mcp.session_scopes plus the scopes of the tool, prompt or resource it uses
# (data.mcp.tools / prompts / resources by name, else data.mcp.default_scopes by kind).
package mandate.base

mcp_request if startswith(input.action, "mcp.")

# data.mcp itself, not object.get(data, ...): reading all of data would depend on every rule.
default mcp_settings := {}

mcp_settings := data.mcp

mcp_kinds := {"tool": "tools", "prompt": "prompts", "resource": "resources"}

mcp_resource_type := object.get(input, ["resource", "type"], "")

mcp_operation_scopes := scopes if {
	scopes := mcp_settings[mcp_kinds[mcp_resource_type]][input.resource.id]
} else := object.get(object.get(mcp_settings, "default_scopes", {}), mcp_resource_type, [])

# Everything the message needs, not only what is missing: a client stepping up with this set gets
# one token good for the whole operation (the MCP proxy names it in its 403 challenge).
mcp_required_scopes contains scope if {
	some scope in object.get(mcp_settings, "session_scopes", [])
}

mcp_required_scopes contains scope if {
	some scope in mcp_operation_scopes
}

mcp_missing_scopes contains scope if {
	some scope in mcp_required_scopes
	not scope in input.subject.scopes
}

mcp_what := concat("", [mcp_resource_type, " '", input.resource.id, "'"]) if {
	is_string(input.resource.id)
} else := input.action

reasons contains {"code": "insufficient_scope", "message": msg, "scopes": sort(mcp_required_scopes)} if {
	mcp_request
	count(mcp_missing_scopes) > 0
	msg := concat("", [
		mcp_what, " needs the scopes: ", concat(" ", sort(mcp_required_scopes)),
		" (missing: ", concat(" ", sort(mcp_missing_scopes)), ")",
	])
}

reasons contains {"code": "policy_denied", "message": "an MCP message about a tool, prompt or resource must name it"} if {
	mcp_request
	mcp_resource_type != ""
	not mcp_named
}

mcp_named if {
	is_string(input.resource.id)
	input.resource.id != ""
}
