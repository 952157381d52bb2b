# Unit tests for acme_inc's MCP agent rules; `opa test examples/mcp/tenants/acme_inc` runs them.
package mandate.tenant_test

import data.mandate.tenant

call(tool, args, act) := {
	"action": "mcp.tools/call",
	"resource": {"type": "tool", "id": tool},
	"tenant": "acme_inc",
	"context": {"mcp": {"method": "tools/call", "arguments": args}},
	"subject": {"sub": "user_8421", "client_id": "agent-1", "scopes": ["crm.read", "crm.write"], "act": act},
}

test_agent_may_call_a_listed_tool if {
	tenant.decision.allow with input as call("crm.search", {"query": "ada"}, ["agent-1"])
}

test_agent_may_not_call_an_unlisted_tool if {
	d := tenant.decision with input as call("crm.delete_contact", {"id": "c-1"}, ["agent-1"])
	d.allow == false
	d.reasons == [{"code": "policy_denied", "message": "in acme_inc the agent 'agent-1' may not call the tool 'crm.delete_contact'"}]
}

test_an_unknown_agent_may_call_nothing if {
	not tenant.decision.allow with input as call("crm.search", {}, ["other-bot"])
}

test_search_limit_is_bounded if {
	not tenant.decision.allow with input as call("crm.search", {"limit": 500}, ["agent-1"])
	tenant.decision.allow with input as call("crm.search", {"limit": 10}, ["agent-1"])
}

test_a_listing_question_without_arguments_keeps_search_listed if {
	q := json.remove(call("crm.search", {}, ["agent-1"]), ["context/mcp/arguments"])
	tenant.decision.allow with input as q
}

test_other_messages_are_left_to_base if {
	tenant.decision.allow with input as {"action": "mcp.tools/list", "subject": {"client_id": "agent-1", "act": ["agent-1"]}}
}
