# From OPA-Envoy's documentation (Policy Primer, "Input Document": parsed_query), unchanged.
package envoy.authz

default allow := false

allow if {
  input.parsed_path == ["people"]
  input.parsed_query.lang == ["en"]
  input.parsed_query.id == ["1", "2"]
}
