# From OPA-Envoy's documentation (Policy Primer, "Input Document": parsed_path), unchanged.
package envoy.authz

default allow := false

allow if input.parsed_path == ["people"]
