# initech is frozen while it migrates: only reading actions are allowed, whoever calls.
package mandate.tenant

decision := {"allow": read_only_action, "reasons": [r | some r in reasons]}

default read_only_action := false

# The verb is the last dot-separated part of the action: `tickets.read` → `read`.
read_only_action if {
	parts := split(input.action, ".")
	parts[count(parts) - 1] in data.read_verbs
}

reasons contains {"code": "policy_denied", "message": msg} if {
	not read_only_action
	msg := concat("", [
		"initech is read-only until ", data.frozen_until,
		"; '", input.action, "' is not a read",
	])
}
