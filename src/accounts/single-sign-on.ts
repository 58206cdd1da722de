import * as client from 'openid-client';
import type { OidcConfig } from '../config.js';
import { upsertOidcAdmin, type Admin } from '../db/admins.js';
import { recordAudit } from '../db/audit.js';
import { isUniqueViolation } from '../db/constraints.js';
import { withTransaction, type Pool } from '../db/pool.js';
import { IdentityProviderUnavailableError } from '../errors.js';
import type { Logger } from '../logger.js';
import { strongestRole, type Role, ROLES } from './roles.js';
import { USERNAME_PATTERN } from './web-credentials.js';

/** The path the identity provider sends the browser back to; registered there as PUBLIC_BASE_URL + this. */
const OIDC_CALLBACK_PATH = '/admin/oidc/callback';
/** What pinline asks the provider for: the identity, a name to show, and an e-mail as the second choice. */
const SCOPES = 'openid profile email';
/** Seconds to wait for the provider's discovery document, keys and token endpoint. */
const PROVIDER_TIMEOUT_SECONDS = 10;

/** What the browser's session keeps between sending it to the provider and its coming back. */
export interface PendingSignin {
  state: string;
  nonce: string;
  codeVerifier: string;
}

/** Who the provider vouched for, from the checked ID token. */
export interface OidcIdentity {
  issuer: string;
  subject: string;
  /** preferred_username, else email: the first that is usable as an administrator's name; null when neither is. */
  username: string | null;
  /** The role claim's value as the token carried it (a string, an array, or absent). */
  claimedRole: unknown;
}

/** Why a sign-in through the provider was refused: each has its words for the page and the audit log. */
export type OidcRefusalReason = 'provider_refused' | 'invalid_response' | 'no_pending_signin' | 'no_role' | 'no_name' | 'name_taken';

export class OidcRefusal extends Error {
  override readonly name = 'OidcRefusal';
  constructor(
    readonly reason: OidcRefusalReason,
    /** The provider's or the client library's own words, for the audit log. */
    readonly detail: string | null = null,
  ) {
    super(`single sign-on refused: ${reason}${detail ? ` (${detail})` : ''}`);
  }
}

export type OidcAdmission = { admin: Admin; role: Role; created: boolean; previousRole: Role | null };

/**
 * Single sign-on for administrators (DESIGN §11) through openid-client: the authorization code
 * flow with PKCE, state and nonce, the provider's endpoints and signing keys from its discovery
 * document, and the ID token's role claim turned into a pinline role at every sign-in.
 */
export class SingleSignOn {
  private discovered: Promise<client.Configuration> | null = null;
  readonly redirectUri: string;

  constructor(
    readonly config: OidcConfig,
    publicBaseUrl: string,
    private readonly pool: Pool,
    private readonly logger: Logger,
  ) {
    this.redirectUri = `${publicBaseUrl}${OIDC_CALLBACK_PATH}`;
  }

  /** The URL that starts a sign-in at the provider, and what to keep to check its answer. */
  async begin(): Promise<{ url: string; pending: PendingSignin }> {
    const configuration = await this.configuration();
    const pending = { state: client.randomState(), nonce: client.randomNonce(), codeVerifier: client.randomPKCECodeVerifier() };
    const url = client.buildAuthorizationUrl(configuration, {
      redirect_uri: this.redirectUri,
      scope: SCOPES,
      state: pending.state,
      nonce: pending.nonce,
      code_challenge: await client.calculatePKCECodeChallenge(pending.codeVerifier),
      code_challenge_method: 'S256',
    });
    return { url: url.href, pending };
  }

  /**
   * Checks the provider's answer (state, then the code exchanged with the verifier, then the ID
   * token's issuer, audience, nonce and signature) and says who it names. Throws an OidcRefusal
   * when the answer does not hold, or IdentityProviderUnavailableError when the provider cannot be used.
   */
  async finish(query: string, pending: PendingSignin | null): Promise<OidcIdentity> {
    if (pending === null) throw new OidcRefusal('no_pending_signin');
    const configuration = await this.configuration();
    // The redirect URI sent to the token endpoint is this URL without its query: the registered one.
    const callbackUrl = new URL(`${this.redirectUri}${query}`);
    let claims: client.IDToken | undefined;
    try {
      const tokens = await client.authorizationCodeGrant(configuration, callbackUrl, {
        pkceCodeVerifier: pending.codeVerifier,
        expectedState: pending.state,
        expectedNonce: pending.nonce,
        idTokenExpected: true,
      });
      claims = tokens.claims();
    } catch (err) {
      throw this.classify(err);
    }
    if (!claims) throw new OidcRefusal('invalid_response', 'no ID token');
    return {
      issuer: claims.iss,
      subject: claims.sub,
      username: [claims.preferred_username, claims.email].find((name): name is string => typeof name === 'string' && USERNAME_PATTERN.test(name)) ?? null,
      claimedRole: claims[this.config.roleClaim],
    };
  }

  /**
   * Makes or updates the administrator the identity names, with the role of this sign-in, and
   * audits it; throws an OidcRefusal (no known role, no usable name, a name another
   * administrator has) after auditing that instead.
   */
  async admit(identity: OidcIdentity, ip: string | null): Promise<OidcAdmission> {
    const role = strongestRole(identity.claimedRole);
    if (role === null) throw new OidcRefusal('no_role', `${this.config.roleClaim}: ${JSON.stringify(identity.claimedRole ?? null)}`);
    if (identity.username === null) throw new OidcRefusal('no_name');
    const username = identity.username;
    try {
      return await withTransaction(this.pool, async (db) => {
        const { admin, created, previousRole } = await upsertOidcAdmin(db, { issuer: identity.issuer, subject: identity.subject, username, role });
        const actor = { channel: 'admin' as const, name: `admin:${admin.username}` };
        if (created) await recordAudit(db, { event: 'admin.created', actor, details: { username, source: 'oidc', role } });
        await recordAudit(db, {
          event: 'admin.signin_succeeded',
          actor,
          details: { ip, method: 'oidc', role, ...(previousRole !== null && previousRole !== role ? { previousRole } : {}) },
        });
        return { admin, role, created, previousRole };
      });
    } catch (err) {
      if (isUniqueViolation(err, 'admins_username_key')) throw new OidcRefusal('name_taken', username);
      throw err;
    }
  }

  /** Audits a refused sign-in with its reason, under the name the token gave when there was one. */
  async recordRefusal(refusal: OidcRefusal, identity: OidcIdentity | null, ip: string | null): Promise<void> {
    await recordAudit(this.pool, {
      event: 'admin.signin_refused',
      actor: { channel: 'admin', name: 'admin:(unknown)' },
      details: {
        ip,
        method: 'oidc',
        reason: refusal.reason,
        ...(refusal.detail !== null ? { detail: refusal.detail } : {}),
        ...(identity ? { subject: identity.subject, name: identity.username } : {}),
      },
    });
  }

  /** The provider's logout, when its discovery document has an end_session_endpoint; null otherwise. */
  async endSessionUrl(): Promise<string | null> {
    const configuration = await this.configuration();
    if (!configuration.serverMetadata().end_session_endpoint) return null;
    return client.buildEndSessionUrl(configuration).href;
  }

  /** The provider's metadata, fetched once; a failed discovery is tried again on the next sign-in. */
  private configuration(): Promise<client.Configuration> {
    if (this.discovered === null) {
      const { issuer, clientId, clientSecret } = this.config;
      // Plain http only on a loopback host (config.ts refuses any other).
      const execute = [client.enableNonRepudiationChecks, ...(new URL(issuer).protocol === 'http:' ? [client.allowInsecureRequests] : [])];
      this.discovered = client
        .discovery(
          new URL(issuer),
          clientId,
          clientSecret ?? undefined,
          clientSecret === null ? client.None() : client.ClientSecretBasic(clientSecret),
          { execute, timeout: PROVIDER_TIMEOUT_SECONDS },
        )
        .catch((err: unknown) => {
          this.discovered = null;
          throw this.unavailable(err);
        });
    }
    return this.discovered;
  }

  /** A refusal when the answer did not check out; unavailable when the provider could not be asked. */
  private classify(err: unknown): Error {
    if (err instanceof client.AuthorizationResponseError) {
      return new OidcRefusal('provider_refused', err.error_description ? `${err.error}: ${err.error_description}` : err.error);
    }
    if (err instanceof client.ResponseBodyError) {
      return new OidcRefusal('invalid_response', err.error_description ? `${err.error}: ${err.error_description}` : err.error);
    }
    if (err instanceof client.ClientError && !isNetworkFailure(err.cause)) {
      const cause = err.cause instanceof Error ? err.cause.message : null;
      return new OidcRefusal('invalid_response', cause && cause !== err.message ? `${err.message}: ${cause}` : err.message);
    }
    return this.unavailable(err);
  }

  private unavailable(err: unknown): IdentityProviderUnavailableError {
    const reason = err instanceof Error ? [err.message, err.cause instanceof Error ? err.cause.message : ''].filter(Boolean).join(': ') : String(err);
    this.logger.warn({ issuer: this.config.issuer, reason }, 'identity provider unavailable');
    return new IdentityProviderUnavailableError(reason);
  }
}

function isNetworkFailure(err: unknown): boolean {
  return err instanceof TypeError || (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError'));
}

/** The words of the refusal page for each reason; `name` is the token's name, where it had one. */
export function describeOidcRefusal(refusal: OidcRefusal, roleClaim: string): string {
  switch (refusal.reason) {
    case 'no_role':
      return `Your organisation signed you in, but gave you no pinline role: its "${roleClaim}" claim must name ${ROLES.join(', ')}. Ask whoever runs your identity provider to give you one.`;
    case 'no_name':
      return 'Your organisation signed you in, but gave no preferred_username or e-mail address that pinline can use as your name (letters, digits, ".", "_", "@" or "-", up to 64).';
    case 'name_taken':
      return `Another pinline administrator already has the name "${refusal.detail ?? ''}". Ask a system administrator to remove or rename that account.`;
    case 'provider_refused':
      return `Your organisation did not sign you in${refusal.detail ? ` (${refusal.detail})` : ''}.`;
    case 'no_pending_signin':
      return 'This sign-in was not started from this browser, or took too long. Start again.';
    case 'invalid_response':
      return "The answer from your organisation's sign-in could not be verified, so nobody was signed in. Start again.";
  }
}
