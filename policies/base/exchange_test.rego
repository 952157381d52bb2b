# Unit tests for the token-exchange rules; `opa test policies/base` runs them.
package mandate.base_exchange_test

import data.mandate.base

subject := {
	"sub": "user_8421", "tenant": "acme_inc", "client_id": "finance-bot",
	"scopes": ["contacts.read", "billing.view"], "act": ["finance-bot"],
}

exchange(audience, scopes) := {
	"action": "token.exchange",
	"resource": {"type": "audience", "id": audience, "attributes": {"scopes": scopes}},
	"tenant": "acme_inc",
	"context": {"actor": "crm-service"},
	"subject": subject,
	"claims": {},
	"transport": "http",
}

test_narrowing_exchange_allows if {
	base.decision == {"allow": true, "reasons": []} with input as exchange("billing-api", ["billing.view"])
}

test_exchange_without_scopes_allows if {
	base.decision.allow with input as exchange("billing-api", [])
}

test_exchange_needs_no_scope_named_after_the_action if {
	not "token.exchange" in subject.scopes
	base.decision.allow with input as exchange("billing-api", ["contacts.read"])
}

test_widening_exchange_denies_naming_missing_scopes if {
	d := base.decision with input as exchange("billing-api", ["billing.view", "billing.admin", "a.b"])
	d.allow == false
	d.reasons == [{
		"code": "insufficient_scope",
		"message": "an exchange for 'billing-api' may only narrow the token's scopes; not held: a.b, billing.admin",
	}]
}

test_exchange_without_audience_denies if {
	d := base.decision with input as object.remove(exchange("billing-api", []), ["resource"])
	d.allow == false
	d.reasons == [{"code": "policy_denied", "message": "an exchange must name its target audience"}]
}

test_exchange_that_would_overflow_the_chain_denies if {
	d := base.decision with input as exchange("billing-api", []) with data.delegation.max_depth as 1
	d.allow == false
	d.reasons[0].message == "exchanging would make the delegation chain longer than 1 actors"
}

test_may_act_naming_the_actor_allows if {
	i := object.union(exchange("billing-api", []), {"claims": {"may_act": {"sub": "crm-service"}}})
	base.decision.allow with input as i
}

test_may_act_naming_someone_else_denies if {
	i := object.union(exchange("billing-api", []), {"claims": {"may_act": {"sub": "other-service"}}})
	d := base.decision with input as i
	d.allow == false
	d.reasons == [{
		"code": "policy_denied",
		"message": "the subject token's may_act does not allow 'crm-service' to act for its subject",
	}]
}

test_may_act_without_a_named_actor_denies if {
	no_actor := object.remove(exchange("billing-api", []), ["context"])
	i := object.union(no_actor, {"claims": {"may_act": {"sub": "crm-service"}}, "context": {}})
	d := base.decision with input as i
	d.reasons[0].message == "the subject token's may_act does not allow '(unnamed)' to act for its subject"
}

test_may_act_is_ignored_for_ordinary_checks if {
	i := {
		"action": "contacts.read", "tenant": "acme_inc", "context": {},
		"subject": subject, "claims": {"may_act": {"sub": "other-service"}},
	}
	base.decision.allow with input as i
}
