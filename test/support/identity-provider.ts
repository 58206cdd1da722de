import { generateKeyPairSync } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import Provider, { type JWK, type KoaContextWithOIDC } from 'oidc-provider';

/** The claims an account at the test provider has, beside its `sub` (its id). */
export type AccountClaims = Record<string, unknown>;

export const TEST_CLIENT = { clientId: 'pinline', clientSecret: 'pinline-client-secret-0123456789' } as const;

/**
 * A real OpenID Connect provider (the `oidc-provider` package) on a loopback port, for the tests
 * of single sign-on. Whoever the test names in `nextAccount` is signed in at the provider's login
 * step, without a form; consent is taken as given. `tokensFrom` hands the token endpoint to
 * another provider, to stand for a token from another issuer.
 */
export class TestIdentityProvider {
  readonly accounts = new Map<string, AccountClaims>();
  nextAccount: string | null = null;
  tokensFrom: TestIdentityProvider | null = null;
  /** An impostor at the same address and issuer, with its own key, answers all but discovery and the key set. */
  forgeSignatures = false;
  private provider: Provider | null = null;
  private forger: Provider | null = null;

  private constructor(
    private readonly server: Server,
    readonly issuer: string,
  ) {}

  /** Listens first, so the issuer is known before pinline (whose redirect URI the provider needs) starts. */
  static async listen(): Promise<TestIdentityProvider> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const idp = new TestIdentityProvider(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    server.on('request', (req, res) => void idp.handle(req, res));
    return idp;
  }

  /** Registers pinline as the one client and starts answering. `jwk`: the signing key, shared to make a second issuer's tokens verify. */
  start(redirectUri: string, jwk: JWK = signingKey()): void {
    this.provider = this.build(redirectUri, jwk);
    this.forger = this.build(redirectUri, signingKey());
  }

  private build(redirectUri: string, jwk: JWK): Provider {
    const accounts = this.accounts;
    return new Provider(this.issuer, {
      clients: [
        {
          client_id: TEST_CLIENT.clientId,
          client_secret: TEST_CLIENT.clientSecret,
          redirect_uris: [redirectUri],
          response_types: ['code'],
          grant_types: ['authorization_code'],
          token_endpoint_auth_method: 'client_secret_basic',
        },
      ],
      jwks: { keys: [jwk] },
      cookies: { keys: ['test-provider-cookie-key'] },
      // Every claim of the granted scopes in the ID token, as identity providers configure a role claim.
      conformIdTokenClaims: false,
      claims: { openid: ['sub', 'pinline_role'], profile: ['preferred_username', 'name'], email: ['email'] },
      findAccount: (_ctx, id) => ({ accountId: id, claims: () => ({ sub: id, ...(accounts.get(id) ?? {}) }) }),
      interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
      features: { devInteractions: { enabled: false }, rpInitiatedLogout: { enabled: true } },
      pkce: { required: () => true },
      ttl: { Interaction: 600, Session: 600, Grant: 600, AccessToken: 600, IdToken: 600 },
      loadExistingGrant: async (ctx: KoaContextWithOIDC) => {
        const clientId = ctx.oidc.client?.clientId ?? '';
        const grantId = ctx.oidc.result?.consent?.grantId ?? ctx.oidc.session?.grantIdFor(clientId);
        if (grantId) return ctx.oidc.provider.Grant.find(grantId);
        const grant = new ctx.oidc.provider.Grant({ clientId, accountId: ctx.oidc.session?.accountId ?? '' });
        grant.addOIDCScope('openid profile email');
        await grant.save();
        return grant;
      },
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const published = /^\/(\.well-known\/|jwks)/.test(req.url ?? '');
    const provider = this.forgeSignatures && !published ? this.forger : this.provider;
    if (!provider) {
      res.writeHead(503).end();
      return;
    }
    if (req.url?.startsWith('/interaction/')) {
      // The login step: the account the test chose, as if its user had typed their password.
      if (this.nextAccount === null) throw new Error('the test named no account to sign in at the provider');
      await provider.interactionFinished(req, res, { login: { accountId: this.nextAccount } }, { mergeWithLastSubmission: false });
      return;
    }
    if (this.tokensFrom?.provider && req.url === '/token') return this.tokensFrom.provider.callback()(req, res);
    return provider.callback()(req, res);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** An RS256 signing key as a private JWK. */
export function signingKey(): JWK {
  return generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' }) as JWK;
}
