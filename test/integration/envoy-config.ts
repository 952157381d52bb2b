// The envoy: config sections the Envoy integration suites start sidecars with.
import { resolve } from 'node:path';

/** Route mapping mode, with initech in shadow (dry-run) mode. */
export const ROUTES_YAML = `
envoy:
  tenant_header: x-tenant
  dry_run: { tenants: [initech] }
  routes:
    - { method: PATCH, path: "/v1/contacts/{id}", action: contacts.update, resource: { type: contact, id: "{id}" } }
    - { method: GET, path: /v1/contacts, action: contacts.read }
    - { method: [GET, HEAD], path: "/v1/orgs/{org}/tickets/{id}", action: tickets.read, resource: { type: ticket, id: "{id}" }, tenant: "{org}" }
    - { method: POST, path: "/v1/tickets/{id}/comments", action: tickets.comment, resource: { type: ticket, id: "{id}" } }
    - { method: "*", path: "/v1/files/{rest*}", action: "files.{method}", resource: { type: file, id: "{rest}" } }
`;

export const COMPAT_DIR = resolve(import.meta.dirname, 'fixtures/envoy-compat');

/** OPA-Envoy compatibility mode over the fixture policy. */
export const COMPAT_YAML = `
envoy:
  compat: { enabled: true, dir: "${COMPAT_DIR}" }
`;

/** Keys never fetched: every decision is jwks_unavailable (class unavailable). */
export const ERROR_MODE_YAML = `
envoy:
  on_error: error_response
  dry_run: { http: true }
  routes:
    - { method: GET, path: /v1/contacts, action: contacts.read }
`;
