# Unit tests for the base policy; `opa test policies/base` runs them (and so does `npm test`).
package mandate.base_test

import data.mandate.base

user_token := {
	"sub": "user_8421",
	"tenant": "acme_inc",
	"client_id": "agent-1",
	"scopes": ["contacts.read", "tickets.write"],
	"act": ["agent-1"],
}

service_token := {
	"tenant": "acme_inc",
	"client_id": "agent-1",
	"scopes": ["contacts.write", "tickets.write"],
	"act": [],
}

request(action, subject) := {
	"action": action,
	"tenant": "acme_inc",
	"context": {},
	"subject": subject,
	"claims": {},
	"transport": "http",
}

test_scope_equal_to_action_allows if {
	base.decision == {"allow": true, "reasons": []} with input as request("contacts.read", user_token)
}

test_mapped_scope_allows if {
	base.decision.allow with input as request("tickets.comment", user_token)
}

test_wildcard_mapping_allows if {
	subject := object.union(user_token, {"scopes": ["billing.admin"]})
	base.decision.allow with input as request("billing.invoices.export", subject)
}

test_missing_scope_denies_naming_action_and_granting_scopes if {
	d := base.decision with input as request("contacts.update", user_token)
	d.allow == false
	d.reasons == [{
		"code": "insufficient_scope",
		"message": "action 'contacts.update' needs one of the scopes: contacts.update, contacts.write",
	}]
}

test_no_scopes_denies if {
	subject := object.remove(user_token, ["scopes"])
	d := base.decision with input as request("contacts.read", subject)
	d.allow == false
	d.reasons[0].code == "insufficient_scope"
}

test_grants_come_from_data if {
	d := base.decision with input as request("contacts.read", user_token)
		with data.scope_grants as {"tickets.write": ["contacts.read"]}
	d.allow
	not base.decision.allow with input as request("tickets.comment", user_token)
		with data.scope_grants as {}
}

test_client_credentials_token_cannot_do_user_delegated_action if {
	d := base.decision with input as request("contacts.update", service_token)
	d.allow == false
	d.reasons == [{
		"code": "delegation_required",
		"message": "action 'contacts.update' acts on a user's data and needs a token issued for a user, not a service's own token",
	}]
}

test_sub_equal_to_client_id_is_a_service_identity if {
	subject := object.union(service_token, {"sub": "agent-1"})
	d := base.decision with input as request("tickets.comment", subject)
	d.reasons[0].code == "delegation_required"
}

test_wildcard_marks_whole_family_user_delegated if {
	subject := object.union(service_token, {"scopes": ["billing.view"]})
	d := base.decision with input as request("billing.view", subject)
	d.reasons[0].code == "delegation_required"
}

test_service_identity_may_do_other_actions if {
	base.decision.allow with input as request("tickets.update", service_token)
}

test_both_reasons_when_both_fail if {
	subject := object.union(service_token, {"scopes": []})
	d := base.decision with input as request("contacts.update", subject)
	{r.code | some r in d.reasons} == {"insufficient_scope", "delegation_required"}
}

test_missing_action_denies if {
	d := base.decision with input as object.remove(request("x", user_token), ["action"])
	d.allow == false
	d.reasons == [{"code": "policy_denied", "message": "the request names no action"}]
}

test_missing_subject_denies if {
	d := base.decision with input as {"action": "contacts.read"}
	d.allow == false
}
