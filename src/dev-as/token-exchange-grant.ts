// The RFC 8693 token-exchange grant, registered on oidc-provider: validates the subject (and actor) token, only narrows, nests `act`, honours `may_act`.
import type { KoaContextWithOIDC, Provider } from 'oidc-provider';
import { errors } from 'oidc-provider';
import { indicatorOf, TOKEN_EXCHANGE_GRANT, type DevResource } from './options.js';

export const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';

/** Request parameters of the grant (RFC 8693 §2.1); `audience` and `resource` may repeat. */
const PARAMETERS = [
  'subject_token',
  'subject_token_type',
  'actor_token',
  'actor_token_type',
  'requested_token_type',
  'audience',
  'resource',
  'scope',
];
const REPEATABLE = ['audience', 'resource'];

/** The slice of an oidc-provider token model the grant reads. */
interface FoundToken {
  readonly kind: string;
  readonly clientId: string;
  readonly accountId?: string;
  readonly scope?: string;
  readonly exp: number;
  readonly extra?: Record<string, unknown>;
  readonly isValid: boolean;
}

interface TokenModel {
  find(value: string): Promise<FoundToken | undefined>;
}

/** Counts exchange requests as they arrive, before any validation (what the integration tests count). */
export interface ExchangeCounter {
  tokenExchange(): void;
}

function list(value: unknown): string[] {
  if (value === undefined || value === null || value === '') return [];
  return (Array.isArray(value) ? value : [value]).filter(
    (v): v is string => typeof v === 'string' && v.length > 0,
  );
}

/** An access token this server issued and has not revoked: a JWT or opaque access token, or a client credentials token. */
async function findToken(provider: Provider, value: string): Promise<FoundToken | undefined> {
  const models = provider as unknown as { AccessToken: TokenModel; ClientCredentials: TokenModel };
  const found =
    (await models.AccessToken.find(value)) ?? (await models.ClientCredentials.find(value));
  return found?.isValid ? found : undefined;
}

/** Registers the grant. `resources` are the audiences tokens can be exchanged for. */
export function registerTokenExchangeGrant(
  provider: Provider,
  resources: readonly DevResource[],
  counter: ExchangeCounter,
  defaultTtlSeconds: number,
): void {
  const byAudience = new Map(resources.map((r) => [r.audience, r]));
  const byIndicator = new Map(resources.map((r) => [indicatorOf(r), r]));

  async function handler(ctx: KoaContextWithOIDC, next: () => Promise<void>): Promise<void> {
    counter.tokenExchange();
    const params = ctx.oidc.params as Record<string, unknown>;
    const client = ctx.oidc.client;
    if (!client) throw new errors.InvalidClient('client authentication failed');

    if (params['subject_token_type'] !== ACCESS_TOKEN_TYPE) {
      throw new errors.InvalidRequest(`subject_token_type must be ${ACCESS_TOKEN_TYPE}`);
    }
    const requested = params['requested_token_type'];
    if (requested !== undefined && requested !== ACCESS_TOKEN_TYPE) {
      throw new errors.InvalidRequest(`only ${ACCESS_TOKEN_TYPE} can be requested`);
    }
    const subjectValue = params['subject_token'];
    if (typeof subjectValue !== 'string' || subjectValue.length === 0) {
      throw new errors.InvalidRequest('subject_token is required');
    }
    const subject = await findToken(provider, subjectValue);
    if (!subject) {
      throw new errors.InvalidRequest('subject_token is invalid, expired or revoked');
    }

    // The actor: the holder of actor_token, which must be the authenticated client's own token;
    // without one, the authenticated client itself.
    let actor = client.clientId;
    const actorValue = params['actor_token'];
    if (actorValue !== undefined) {
      if (params['actor_token_type'] !== ACCESS_TOKEN_TYPE) {
        throw new errors.InvalidRequest(`actor_token_type must be ${ACCESS_TOKEN_TYPE}`);
      }
      const actorToken =
        typeof actorValue === 'string' ? await findToken(provider, actorValue) : undefined;
      if (!actorToken)
        throw new errors.InvalidRequest('actor_token is invalid, expired or revoked');
      if (actorToken.clientId !== client.clientId) {
        throw new errors.InvalidRequest('actor_token was not issued to the authenticated client');
      }
      actor = actorToken.accountId ?? actorToken.clientId;
    } else if (params['actor_token_type'] !== undefined) {
      throw new errors.InvalidRequest('actor_token_type without actor_token');
    }

    // RFC 8693 §4.4: a subject token naming who may act for it admits only that actor.
    const mayAct = subject.extra?.['may_act'] as { sub?: unknown } | undefined;
    if (mayAct !== undefined && mayAct.sub !== actor) {
      throw new errors.InvalidRequest(`the subject token's may_act does not allow ${actor}`);
    }

    const targets = new Set<DevResource>();
    for (const audience of list(params['audience'])) {
      const found = byAudience.get(audience);
      if (!found) throw new errors.InvalidTarget(`unknown audience ${audience}`);
      targets.add(found);
    }
    for (const indicator of list(params['resource'])) {
      const found = byIndicator.get(indicator);
      if (!found) throw new errors.InvalidTarget(`unknown resource ${indicator}`);
      targets.add(found);
    }
    if (targets.size !== 1) {
      throw new errors.InvalidTarget('name exactly one target audience (audience or resource)');
    }
    const [target] = [...targets] as [DevResource];

    // Down-scoping only: every scope must be held by the subject token and meant for the target.
    const held = new Set(list(subject.scope?.split(' ')));
    const understood = new Set(target.scopes);
    const asked = list(typeof params['scope'] === 'string' ? params['scope'].split(' ') : []);
    let granted: string[];
    if (asked.length > 0) {
      for (const scope of asked) {
        if (!held.has(scope)) {
          throw new errors.InvalidScope(
            'an exchange never widens: the subject token does not hold this scope',
            scope,
          );
        }
        if (!understood.has(scope)) {
          throw new errors.InvalidScope(`${target.audience} does not define this scope`, scope);
        }
      }
      granted = [...new Set(asked)];
    } else {
      granted = [...held].filter((s) => understood.has(s));
      if (granted.length === 0) {
        throw new errors.InvalidScope(`the subject token holds no scope of ${target.audience}`, '');
      }
    }

    // The new token never outlives the one it was exchanged for.
    const now = Math.floor(Date.now() / 1000);
    const ttl = Math.min(target.accessTokenTtlSeconds ?? defaultTtlSeconds, subject.exp - now);
    if (ttl <= 0) throw new errors.InvalidRequest('subject_token is expired');

    const subjectAct = subject.extra?.['act'];
    const tenant = subject.extra?.['tenant'];
    const models = provider as unknown as {
      AccessToken: new (init: Record<string, unknown>) => {
        resourceServer: unknown;
        save(): Promise<string>;
      };
      ResourceServer: new (identifier: string, info: Record<string, unknown>) => unknown;
    };
    const token = new models.AccessToken({
      accountId: subject.accountId ?? subject.clientId,
      client,
      gty: TOKEN_EXCHANGE_GRANT,
      scope: granted.join(' '),
      expiresIn: ttl,
      extra: {
        ...(typeof tenant === 'string' ? { tenant } : {}),
        // RFC 8693 §4.1: the current actor outermost, the subject token's chain nested inside.
        act: {
          sub: actor,
          ...(typeof subjectAct === 'object' && subjectAct ? { act: subjectAct } : {}),
        },
      },
    });
    token.resourceServer = new models.ResourceServer(
      indicatorOf(target),
      resourceServerInfo(target, ttl),
    );
    const value = await token.save();

    ctx.body = {
      access_token: value,
      issued_token_type: ACCESS_TOKEN_TYPE,
      token_type: 'Bearer',
      expires_in: ttl,
      scope: granted.join(' '),
    };
    await next();
  }

  provider.registerGrantType(TOKEN_EXCHANGE_GRANT, handler, PARAMETERS, REPEATABLE);
}

/** What oidc-provider needs to issue an RFC 9068 JWT access token for one API. */
export function resourceServerInfo(resource: DevResource, ttlSeconds: number) {
  return {
    scope: resource.scopes.join(' '),
    audience: resource.audience,
    accessTokenTTL: ttlSeconds,
    accessTokenFormat: 'jwt',
    jwt: { sign: { alg: 'ES256' } },
  };
}
