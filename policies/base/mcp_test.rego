# Unit tests for the MCP rules; `opa test policies/base` runs them.
package mandate.base_mcp_test

import data.mandate.base

subject(scopes) := {"sub": "user_8421", "tenant": "acme_inc", "client_id": "agent-1", "scopes": scopes, "act": ["agent-1"]}

call(tool, scopes) := {
	"action": "mcp.tools/call",
	"resource": {"type": "tool", "id": tool},
	"tenant": "acme_inc",
	"context": {"mcp": {"method": "tools/call", "arguments": {}, "resource": "https://mcp.example/mcp"}},
	"subject": subject(scopes),
	"claims": {},
	"transport": "mcp",
}

message(method, scopes) := {
	"action": concat("", ["mcp.", method]),
	"tenant": "acme_inc",
	"context": {"mcp": {"method": method, "resource": "https://mcp.example/mcp"}},
	"subject": subject(scopes),
	"claims": {},
	"transport": "mcp",
}

test_session_methods_need_no_scope if {
	base.decision == {"allow": true, "reasons": []} with input as message("initialize", [])
	base.decision.allow with input as message("tools/list", [])
}

test_listed_tool_needs_its_scopes if {
	base.decision.allow with input as call("crm.search", ["crm.read"])
	not base.decision.allow with input as call("crm.search", ["mcp.tools"])
}

test_denial_names_every_scope_the_call_needs if {
	d := base.decision with input as call("crm.delete_contact", ["crm.read"])
	d.allow == false
	d.reasons == [{
		"code": "insufficient_scope",
		"message": "tool 'crm.delete_contact' needs the scopes: crm.read crm.write (missing: crm.write)",
		"scopes": ["crm.read", "crm.write"],
	}]
}

test_unlisted_tool_needs_the_default_scope if {
	base.decision.allow with input as call("echo", ["mcp.tools"])
	d := base.decision with input as call("echo", [])
	d.reasons[_].scopes == ["mcp.tools"]
}

test_session_scopes_apply_to_every_message if {
	not base.decision.allow with input as message("ping", []) with data.mcp.session_scopes as ["mcp"]
	base.decision.allow with input as message("ping", ["mcp"]) with data.mcp.session_scopes as ["mcp"]
	d := base.decision with input as call("crm.search", ["crm.read"]) with data.mcp.session_scopes as ["mcp"]
	d.reasons[_].scopes == ["crm.read", "mcp"]
}

test_unnamed_tool_is_denied if {
	not base.decision.allow with input as json.remove(call("x", ["mcp.tools"]), ["resource/id"])
}

test_mcp_action_is_not_granted_by_a_scope_named_after_it if {
	not base.decision.allow with input as call("crm.search", ["mcp.tools/call"])
}
