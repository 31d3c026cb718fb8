// The authorization server the OAuth bearer-token tests start: oidc-provider (an OpenID
// Certified implementation from the npm registry), on 127.0.0.1:PORT over plain HTTP.
//
//   node tests/oauth/server.mjs PORT      (0: any free port; stdout's first line starts with the issuer URL)
//
// - Signing keys (RSA 2048 and EC P-256) are made at every start with new kids, so starting it
//   again on the same port is a key rotation.
// - Client `svc-secret` (client_secret_basic, secret `svc-secret-password`) gets access tokens
//   with the client_credentials grant; resource indicators make them JWTs (typ at+jwt) for the
//   resource asked, signed RS256, or ES256 when the resource's URL contains `es256`.
// - Opaque access tokens for resources whose URL contains `opaque`, for token introspection
//   (/token/introspection) by client `gw-secret` (client_secret_basic, secret `gw-secret-password`)
//   or `gw-jwt` (private_key_jwt, its public key given as a JWK in GATEWAY_CLIENT_JWK).
// - With MTLS_PORT, MTLS_KEY, MTLS_CERT (the server's, for 127.0.0.1) and MTLS_CA (PEM files):
//   the same provider also on https://127.0.0.1:MTLS_PORT, asking for client certificates from
//   that CA, and client `gw-mtls` authenticating with tls_client_auth (RFC 8705).
// - POST /test/mint?sub=&client_id=&scope=&resource=&groups=a,b issues an access token for a
//   user subject through the provider's own AccessToken model and JWT format (the tests need two
//   users of one client without driving a browser login).
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';

// oidc-provider is installed outside the sources, in build/oauth/node_modules
// (scripts/install-test-deps); OIDC_PROVIDER_MODULES may name another node_modules folder.
const modules = process.env.OIDC_PROVIDER_MODULES
  ?? path.join(import.meta.dirname, '..', '..', 'build', 'oauth', 'node_modules');
const { default: Provider } = await import(
  pathToFileURL(path.join(modules, 'oidc-provider', 'lib', 'index.js')).href
);

// PORT 0: the system picks a free port (no race with other tests for it); the first line on
// stdout names the issuer URL, and so the port.
const requested = Number(process.argv[2]);
if (!Number.isInteger(requested) || process.argv[2] === undefined) {
  console.error('usage: node server.mjs PORT');
  process.exit(2);
}
const server = http.createServer();
await new Promise((resolve, reject) => {
  server.once('error', reject);
  server.listen(requested, '127.0.0.1', resolve);
});
const { port } = server.address();
const issuer = `http://127.0.0.1:${port}`;

function jwk(type, options, alg) {
  const { privateKey } = crypto.generateKeyPairSync(type, options);
  return { ...privateKey.export({ format: 'jwk' }), kid: `${alg}-${crypto.randomUUID()}`, alg, use: 'sig' };
}
const keys = [
  jwk('rsa', { modulusLength: 2048 }, 'RS256'),
  jwk('ec', { namedCurve: 'P-256' }, 'ES256'),
];

const groupsOf = new Map();

const resourceInfo = (ctx, resource) => ({
  scope: 'orders.read orders.write admin',
  audience: resource,
  accessTokenTTL: 300,
  accessTokenFormat: resource.includes('opaque') ? 'opaque' : 'jwt',
  jwt: { sign: { alg: resource.includes('es256') ? 'ES256' : 'RS256' } },
});

const provider = new Provider(issuer, {
  jwks: { keys },
  scopes: ['openid', 'orders.read', 'orders.write', 'admin'],
  clientAuthMethods: ['client_secret_basic', 'private_key_jwt']
    .concat(process.env.MTLS_CA ? ['tls_client_auth'] : []),
  clients: [
    {
      client_id: 'svc-secret',
      client_secret: 'svc-secret-password',
      grant_types: ['client_credentials'],
      redirect_uris: [],
      response_types: [],
      token_endpoint_auth_method: 'client_secret_basic',
      scope: 'orders.read orders.write admin',
    },
    // The gateway introspecting opaque tokens: with a secret, and (when the tests give its public
    // key in GATEWAY_CLIENT_JWK) with private_key_jwt.
    {
      client_id: 'gw-secret',
      client_secret: 'gw-secret-password',
      grant_types: ['client_credentials'],
      redirect_uris: [],
      response_types: [],
      token_endpoint_auth_method: 'client_secret_basic',
    },
    ...(process.env.GATEWAY_CLIENT_JWK ? [{
      client_id: 'gw-jwt',
      grant_types: ['client_credentials'],
      redirect_uris: [],
      response_types: [],
      token_endpoint_auth_method: 'private_key_jwt',
      jwks: { keys: [JSON.parse(process.env.GATEWAY_CLIENT_JWK)] },
    }] : []),
    // tls_client_auth (RFC 8705): the gateway's client certificate, subject CN=gw-mtls, from
    // the tests' CA, presented on the HTTPS listener (MTLS_PORT).
    ...(process.env.MTLS_CA ? [{
      client_id: 'gw-mtls',
      grant_types: ['client_credentials'],
      redirect_uris: [],
      response_types: [],
      token_endpoint_auth_method: 'tls_client_auth',
      tls_client_auth_subject_dn: 'CN=gw-mtls',
    }] : []),
  ],
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    mTLS: {
      enabled: Boolean(process.env.MTLS_CA),
      tlsClientAuth: true,
      getCertificate: (ctx) => ctx.socket.getPeerX509Certificate?.()?.toString(),
      certificateAuthorized: (ctx) => ctx.socket.authorized === true,
      certificateSubjectMatches: (ctx, property, expected) => property === 'tls_client_auth_subject_dn'
        && ctx.socket.getPeerX509Certificate?.()?.subject === expected,
    },
    introspection: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => 'https://api.example.com',
      useGrantedResource: () => true,
      getResourceServerInfo: resourceInfo,
    },
  },
  // A client's own token (client_credentials) is in group Services; a minted user's, in the
  // groups the mint asked for.
  extraTokenClaims: async (ctx, token) => ({
    groups: token.accountId ? (groupsOf.get(token.accountId) ?? []) : ['Services'],
  }),
});

provider.use(async (ctx, next) => {
  if (ctx.path !== '/test/mint' || ctx.method !== 'POST') {
    return next();
  }
  const q = ctx.query;
  const client = await provider.Client.find(q.client_id);
  if (!client || !q.sub || !q.resource) {
    ctx.status = 400;
    ctx.body = { error: 'need sub, client_id (known), resource' };
    return undefined;
  }
  groupsOf.set(q.sub, q.groups ? q.groups.split(',') : []);
  const token = new provider.AccessToken({
    accountId: q.sub,
    client,
    scope: q.scope || 'orders.read',
    resourceServer: new provider.ResourceServer(q.resource, resourceInfo(ctx, q.resource)),
  });
  ctx.body = { access_token: await token.save() };
  return undefined;
});

if (process.env.MTLS_CA) {
  https.createServer({
    key: fs.readFileSync(process.env.MTLS_KEY),
    cert: fs.readFileSync(process.env.MTLS_CERT),
    ca: fs.readFileSync(process.env.MTLS_CA),
    requestCert: true,
    rejectUnauthorized: false,
  }, provider.callback()).listen(Number(process.env.MTLS_PORT), '127.0.0.1');
}

server.on('request', provider.callback());
console.log(`${issuer} oidc-provider listening (kids ${keys.map((k) => k.kid).join(', ')})`);
