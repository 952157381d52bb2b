# An OPA-Envoy policy as it runs unchanged in mandate's compatibility mode
# (envoy.compat.enabled: true, envoy.compat.dir pointing at this file's folder).
# mandate has already verified the token: input.token holds its claims, input.subject and
# input.tenant the normalised identity, input.action the action from route mapping.
package envoy.authz

default allow := false

http_request := input.attributes.request.http

allow if {
	http_request.method == "GET"
	input.parsed_path[0] == "v1"
	"contacts.read" in input.subject.scopes
}

allow := {
	"allowed": false,
	"http_status": 429,
	"body": "slow down",
	"headers": {"retry-after": "30"},
} if input.parsed_path == ["v1", "exports"]
