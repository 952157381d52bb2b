# Unit tests for initech's read-only freeze; `opa test policies/tenants/initech` runs them.
package mandate.tenant_test

import data.mandate.tenant

request(action) := {"action": action, "subject": {"sub": "u", "scopes": [action], "act": []}}

test_reads_are_allowed if {
	tenant.decision.allow with input as request("tickets.read")
	tenant.decision.allow with input as request("billing.invoices.view")
}

test_writes_are_denied if {
	d := tenant.decision with input as request("tickets.update")
	d.allow == false
	d.reasons == [{
		"code": "policy_denied",
		"message": "initech is read-only until its migration completes; 'tickets.update' is not a read",
	}]
}

test_missing_action_is_denied if {
	not tenant.decision.allow with input as {"subject": {}}
}
