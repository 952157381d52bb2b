// The one transport-agnostic request every adapter builds before calling decide().
import type { DpopEvidence } from '../token/dpop.js';

// Adapters gather the DPoP evidence and speak its challenge (algorithms, error code) through core/,
// never token/ directly.
export {
  DPOP_PROOF_ALGORITHMS,
  type DpopError,
  type DpopEvidence,
  type DpopRequest,
} from '../token/dpop.js';

/** Which adapter a request came through; recorded in audit and metrics. */
export type Transport =
  | 'http'
  | 'grpc'
  | 'envoy_grpc'
  | 'envoy_http'
  | 'mcp'
  /** `mandate proxy` in front of a plain HTTP upstream (`proxy:`). */
  | 'http_proxy'
  | 'cli';

export interface ResourceRef {
  readonly type: string;
  readonly id?: string;
  readonly attributes?: Readonly<Record<string, unknown>>;
}

export interface AuthzRequest {
  /** Raw compact JWS, without the `Bearer ` prefix; undefined when the caller sent none. */
  readonly token: string | undefined;
  /** The action asked for, e.g. `contacts.update`. */
  readonly action: string;
  readonly resource?: ResourceRef;
  /** Tenant the caller says it is acting in; must equal the token's tenant when given. */
  readonly tenant?: string;
  /** Free-form request context passed to policies as `input.context`. */
  readonly context?: Readonly<Record<string, unknown>>;
  readonly transport: Transport;
  /** Caller's request id (x-request-id or similar), echoed into audit. */
  readonly requestId?: string;
  /** The caller's address as the transport saw it (`ip:port`), recorded as OPA's `requested_by`. */
  readonly peer?: string;
  /**
   * How the token was presented and what a DPoP proof must match, from adapters that see the
   * HTTP request (Envoy; the Check API only says the scheme). A DPoP-bound token without it is
   * refused, and so is a token without `cnf.jkt` presented with the DPoP scheme
   * (`token_binding_unverified`).
   */
  readonly dpop?: DpopEvidence;
}
