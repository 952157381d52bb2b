# Unit tests for the delegation-chain rules; `opa test policies/base` runs them.
package mandate.base_delegation_test

import data.mandate.base

chain(act, tenant) := {
	"action": "contacts.read",
	"tenant": tenant,
	"context": {},
	"subject": {
		"sub": "user_8421", "tenant": tenant, "client_id": "agent-1",
		"scopes": ["contacts.read"], "act": act,
	},
	"claims": {},
	"transport": "http",
}

test_chain_within_depth_allows if {
	base.decision.allow with input as chain(["crm-service", "agent-1"], "acme_inc")
}

test_chain_deeper_than_max_depth_denies if {
	d := base.decision with input as chain(["a", "b", "c"], "globex") with data.delegation.max_depth as 2
	d.allow == false
	d.reasons == [{"code": "policy_denied", "message": "the delegation chain has 3 actors; at most 2 are allowed"}]
}

test_max_depth_comes_from_data if {
	base.decision.allow with input as chain(["a", "b", "c"], "globex") with data.delegation.max_depth as 3
}

test_unlisted_current_actor_denies_in_a_listed_tenant if {
	d := base.decision with input as chain(["rogue-bot"], "acme_inc")
	d.allow == false
	d.reasons == [{"code": "policy_denied", "message": "'rogue-bot' is not an allowed actor in tenant acme_inc"}]
}

# RFC 8693 §4.1: nested actors are informational, so only the outermost one is checked.
test_nested_actors_are_not_used_for_access_control if {
	base.decision.allow with input as chain(["crm-service", "rogue-bot"], "acme_inc")
}

test_tenant_without_a_list_accepts_any_actor if {
	base.decision.allow with input as chain(["rogue-bot"], "globex")
}

test_no_actor_is_not_checked if {
	base.decision.allow with input as chain([], "acme_inc")
}
