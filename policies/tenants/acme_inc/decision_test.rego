# Unit tests for acme_inc's agent rules; `opa test policies/tenants/acme_inc` runs them.
package mandate.tenant_test

import data.mandate.tenant

person := {"sub": "user_8421", "client_id": "acme-portal", "scopes": ["billing.view"], "act": []}

request(action, subject) := {"action": action, "tenant": "acme_inc", "context": {}, "subject": subject}

delegated_to(agent) := {"sub": "user_8421", "client_id": agent, "scopes": ["billing.view"], "act": [agent]}

test_finance_bot_may_view_billing if {
	tenant.decision == {"allow": true, "reasons": []} with input as request("billing.view", delegated_to("finance-bot"))
}

test_other_agent_may_not_view_billing if {
	d := tenant.decision with input as request("billing.view", delegated_to("agent-1"))
	d.allow == false
	d.reasons == [{
		"code": "policy_denied",
		"message": "in acme_inc only the agent(s) finance-bot may perform 'billing.view', not 'agent-1'",
	}]
}

test_untrusted_agent_cannot_launder_through_finance_bot if {
	subject := object.union(delegated_to("finance-bot"), {"act": ["finance-bot", "agent-1"]})
	not tenant.decision.allow with input as request("billing.view", subject)
}

test_agent_with_own_token_is_still_an_agent if {
	subject := {"sub": "support-bot", "client_id": "support-bot", "scopes": ["billing.view"], "act": []}
	not tenant.decision.allow with input as request("billing.view", subject)
}

test_person_without_agent_may_view_billing if {
	tenant.decision.allow with input as request("billing.view", person)
}

test_no_agent_may_delete_contacts if {
	d := tenant.decision with input as request("contacts.delete", delegated_to("finance-bot"))
	d.allow == false
	d.reasons[0].code == "policy_denied"
	contains(d.reasons[0].message, "a person must do this directly")
}

test_person_may_delete_contacts if {
	tenant.decision.allow with input as request("contacts.delete", person)
}

test_other_actions_are_not_narrowed if {
	tenant.decision.allow with input as request("tickets.comment", delegated_to("agent-1"))
}

test_reserved_actions_come_from_data if {
	tenant.decision.allow with input as request("billing.view", delegated_to("agent-1"))
		with data.agent_reserved_actions as {}
}

exchange(scopes, subject) := {
	"action": "token.exchange",
	"resource": {"type": "audience", "id": "billing-api", "attributes": {"scopes": scopes}},
	"tenant": "acme_inc",
	"context": {"actor": "crm-service"},
	"subject": subject,
}

test_agent_may_reach_billing_with_billing_view if {
	tenant.decision.allow with input as exchange(["billing.view"], delegated_to("finance-bot"))
}

test_agent_may_not_reach_billing_with_more_than_billing_view if {
	d := tenant.decision with input as exchange(["billing.view", "billing.admin"], delegated_to("finance-bot"))
	d.allow == false
	d.reasons == [{
		"code": "policy_denied",
		"message": "in acme_inc agents may only reach billing-api with the scope(s) billing.view",
	}]
}

test_agent_must_name_the_billing_scope if {
	not tenant.decision.allow with input as exchange([], delegated_to("finance-bot"))
}

test_person_exchange_to_billing_is_not_narrowed if {
	tenant.decision.allow with input as exchange(["billing.view", "billing.admin"], person)
}

test_other_audiences_are_not_narrowed if {
	i := object.union(exchange([], delegated_to("agent-1")), {"resource": {"id": "crm-api"}})
	tenant.decision.allow with input as i
}

# A service that joined the chain by exchanging is not an agent; the agent behind it still counts.
test_services_in_the_chain_are_not_agents if {
	subject := object.union(delegated_to("finance-bot"), {"client_id": "crm-service", "act": ["crm-service", "finance-bot"]})
	tenant.decision.allow with input as request("billing.view", subject)
	d := tenant.decision with input as request("billing.view", object.union(subject, {"act": ["crm-service", "agent-1"]}))
	d.reasons[0].message == "in acme_inc only the agent(s) finance-bot may perform 'billing.view', not 'agent-1'"
}
