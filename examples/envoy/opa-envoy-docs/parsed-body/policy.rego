# From OPA-Envoy's documentation (Policy Primer, "Input Document": parsed_body), unchanged.
package envoy.authz

default allow := false

allow if {
  input.parsed_body.firstname == "Charlie"
  input.parsed_body.lastname == "Opa"
}
