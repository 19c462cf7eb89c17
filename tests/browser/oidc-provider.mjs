// A real OpenID provider for the sign-in tests: the npm `oidc-provider` package (a certified
// implementation) with its development login page, one confidential client for Relais (code
// flow with PKCE), accounts whose `groups` claim gives their roles, and RP-initiated log-out.
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { createServer as netServer } from 'node:net';
import Provider from 'oidc-provider';

/// A TCP port free now on 127.0.0.1.
export function freePort() {
  return new Promise((resolve, reject) => {
    const probe = netServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

export const CLIENT_SECRET = 'relais-client-secret-for-the-sign-in-tests';

/// Accounts of the provider: any password signs in (the development login page), the groups
/// decide what Relais makes of them.
const ACCOUNTS = {
  marie: { name: 'Marie Curie', groups: ['relais-agents'] },
  sylvie: { name: 'Sylvie Germain', groups: ['relais-supervisors', 'relais-admins'] },
  intrus: { name: 'Un visiteur', groups: ['visiteurs'] },
};

/// Starts the provider for a Relais reachable at `relaisUrl`, on `port` (default: a free one)
/// with a signing key of its own, new at each start (so a restart on the same port is a key
/// rotation); resolves with its issuer URL, the TOML of Relais's `[oidc]` section, and `stop()`.
export async function startProvider(relaisUrl, { port: wanted = null } = {}) {
  const port = wanted ?? (await freePort());
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const signing = { ...privateKey.export({ format: 'jwk' }), kid: randomUUID(), alg: 'RS256', use: 'sig' };
  const issuer = `http://127.0.0.1:${port}`;
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: 'relais',
        client_secret: CLIENT_SECRET,
        redirect_uris: [`${relaisUrl}/auth/callback`],
        post_logout_redirect_uris: [`${relaisUrl}/signin?signed_out=1`],
        response_types: ['code'],
        grant_types: ['authorization_code'],
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ],
    pkce: { required: () => true },
    claims: { openid: ['sub'], profile: ['name', 'preferred_username', 'groups'] },
    // The scope's claims in the ID token itself (Relais reads the ID token only).
    conformIdTokenClaims: false,
    findAccount: async (ctx, id) => ({
      accountId: id,
      claims: async () => ({ sub: `id-${id}`, preferred_username: id, name: ACCOUNTS[id]?.name ?? id, groups: ACCOUNTS[id]?.groups ?? [] }),
    }),
    features: { devInteractions: { enabled: true }, rpInitiatedLogout: { enabled: true } },
    cookies: { keys: ['cookie key of the test provider'] },
    jwks: { keys: [signing] },
  });
  const requests = [];
  const server = createServer((req, res) => {
    requests.push(req.url.split('?')[0]);
    provider.callback()(req, res);
  });
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
  const oidcToml = `
[oidc]
issuer = "${issuer}"
client_id = "relais"
client_secret = "${CLIENT_SECRET}"
roles_claim = "groups"
[oidc.roles]
agent = ["relais-agents"]
supervisor = ["relais-supervisors"]
admin = ["relais-admins"]
`;
  return {
    issuer,
    port,
    kid: signing.kid,
    oidcToml,
    requests,
    stop: () => new Promise((resolve) => server.close(resolve)),
  };
}

/// Signs in at the provider's login page the browser is on (any password), and gives consent
/// if the provider asks for it.
export async function signInAtProvider(page, login) {
  await page.waitForSelector('input[name="login"]', { timeout: 15000 });
  await page.type('input[name="login"]', login);
  await page.type('input[name="password"]', 'any password works here');
  await Promise.all([page.waitForNavigation({ timeout: 15000 }), page.click('button[type="submit"]')]);
  // The consent page, when shown: its only button continues.
  const consent = await page.$('input[name="prompt"][value="consent"]');
  if (consent) await Promise.all([page.waitForNavigation({ timeout: 15000 }), page.click('button[type="submit"]')]);
}
