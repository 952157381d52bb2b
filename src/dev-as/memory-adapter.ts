// In-memory storage for oidc-provider models that also finds JWT access tokens, so introspection and revocation work for them.
import type { Adapter, AdapterPayload } from 'oidc-provider';

/** Models whose tokens may be JWTs (oidc-provider issues JWT access tokens without storing them). */
const JWT_MODELS: ReadonlySet<string> = new Set(['AccessToken', 'ClientCredentials']);

interface Stored {
  readonly payload: AdapterPayload;
  /** Epoch ms; undefined keeps the record until destroyed. */
  readonly expiresAt?: number;
}

export interface DevStorage {
  /** The adapter factory to hand to oidc-provider. */
  factory(name: string): Adapter;
  /**
   * Records a JWT access token at issue time, under its `jti`, so it can be found (and revoked) by
   * value later. `payload` is what oidc-provider would have stored for an opaque token.
   */
  recordJwt(model: string, jti: string, payload: AdapterPayload, expiresInSeconds: number): void;
}

/**
 * `jtiOf` must verify a compact JWT's signature and issuer and return its `jti`, or undefined:
 * looking a token up by an unverified `jti` would let anyone forge "active" tokens.
 */
export function createDevStorage(jtiOf: (jwt: string) => Promise<string | undefined>): DevStorage {
  const models = new Map<string, Map<string, Stored>>();
  const byGrant = new Map<string, Set<[string, string]>>();
  const uidIndex = new Map<string, string>();
  const userCodeIndex = new Map<string, string>();

  function store(name: string): Map<string, Stored> {
    let m = models.get(name);
    if (!m) models.set(name, (m = new Map()));
    return m;
  }

  function put(name: string, id: string, payload: AdapterPayload, expiresIn: number): void {
    store(name).set(id, {
      payload,
      ...(expiresIn > 0 ? { expiresAt: Date.now() + expiresIn * 1000 } : {}),
    });
    if (payload.grantId) {
      let set = byGrant.get(payload.grantId);
      if (!set) byGrant.set(payload.grantId, (set = new Set()));
      set.add([name, id]);
    }
    if (payload.uid) uidIndex.set(payload.uid, id);
    if (payload.userCode) userCodeIndex.set(payload.userCode, id);
  }

  function get(name: string, id: string): AdapterPayload | undefined {
    const m = store(name);
    const found = m.get(id);
    if (!found) return undefined;
    if (found.expiresAt !== undefined && found.expiresAt <= Date.now()) {
      m.delete(id);
      return undefined;
    }
    return found.payload;
  }

  return {
    recordJwt(model, jti, payload, expiresInSeconds) {
      put(model, jti, payload, expiresInSeconds);
    },
    factory(name) {
      return {
        async upsert(id, payload, expiresIn) {
          put(name, id, payload, expiresIn);
        },
        async find(id) {
          if (JWT_MODELS.has(name) && id.split('.').length === 3) {
            const jti = await jtiOf(id);
            return jti === undefined ? undefined : get(name, jti);
          }
          return get(name, id);
        },
        async findByUid(uid) {
          const id = uidIndex.get(uid);
          return id === undefined ? undefined : get(name, id);
        },
        async findByUserCode(userCode) {
          const id = userCodeIndex.get(userCode);
          return id === undefined ? undefined : get(name, id);
        },
        async consume(id) {
          const found = store(name).get(id);
          if (found) found.payload.consumed = Math.floor(Date.now() / 1000);
        },
        async destroy(id) {
          store(name).delete(id);
        },
        async revokeByGrantId(grantId) {
          const entries = byGrant.get(grantId);
          if (!entries) return;
          for (const [model, id] of entries) store(model).delete(id);
          byGrant.delete(grantId);
        },
      };
    },
  };
}
