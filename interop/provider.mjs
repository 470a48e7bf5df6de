// A real authorization server for tokengate's interoperability suite: oidc-provider (the
// OpenID-certified Node.js implementation) issuing RFC 9068 JWT access tokens to one
// client_credentials client. Development use only: loopback, fixed client secret, keys
// kept in a plain file.
//
//   node provider.mjs [--port N] [--keys-file PATH] [--keys k2,k1] [--lifetime SECONDS]
//
// Every flag has an environment fallback: INTEROP_PORT, INTEROP_KEYS_FILE, INTEROP_KEYS,
// INTEROP_LIFETIME_S.
//
// --port      port on 127.0.0.1 (0, the default: any free port). The issuer is
//             http://127.0.0.1:PORT, so a restart on the same port is the same issuer.
// --keys      the RS256 signing keys to publish, by name, comma-separated. The FIRST one
//             signs; the others are only published (an overlap during rotation). Default k1.
// --keys-file JSON file of private JWKs by name. A named key missing from it is generated
//             and added, so a restart with `--keys k2,k1` rotates to a new key while k1
//             stays the same. Without a file, keys live only as long as the process.
// --lifetime  the process exits by itself after this many seconds (default 600), and as soon
//             as its parent process is gone, so a crashed test run leaves nothing behind.
//
// Once listening it prints one line on stdout:
//   ready http://127.0.0.1:PORT kid=<signing kid> published=<kid,kid,...>
//
// Client: interop-client / interop-secret (HTTP Basic, client_secret_basic),
// grant client_credentials only. Resource indicators (RFC 8707):
//   https://api.interop.test     scopes "read admin"  JWT     (the API under test)
//   https://other.interop.test   scope  "read"        JWT     (another API: a wrong audience)
//   https://opaque.interop.test  scopes "read admin"  opaque  (an API that introspects)
// A token request naming a JWT resource with `resource=` gets a JWT access token
// (typ at+jwt, RS256, aud = the resource, sub = client_id = interop-client); naming the
// opaque one, an opaque token whose introspection answer has aud = that resource. One
// without `resource` gets an opaque token with no audience; any other resource is refused
// (invalid_target).
//
// Endpoints besides discovery, JWKS and token (paths as in the discovery document):
//   POST /token/introspection  RFC 7662, for the client above (HTTP Basic); JWTs are
//                              refused there (400 unsupported_token_type), as they are
//                              meant to be verified locally
//   POST /token/revocation     RFC 7009, the client's own tokens
// A token request with a DPoP header (RFC 9449) gets a DPoP-bound token, of either format.
// Tokens live in memory: a restart forgets every opaque token.

import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';

import Provider, { errors } from 'oidc-provider';

export const CLIENT_ID = 'interop-client';
export const CLIENT_SECRET = 'interop-secret';
export const RESOURCES = {
  'https://api.interop.test': { scope: 'read admin', format: 'jwt' },
  'https://other.interop.test': { scope: 'read', format: 'jwt' },
  'https://opaque.interop.test': { scope: 'read admin', format: 'opaque' },
};

function fail(message) {
  console.error(`provider: ${message}`);
  process.exit(2);
}

const { values: args } = parseArgs({
  options: {
    port: { type: 'string', default: process.env.INTEROP_PORT || '0' },
    'keys-file': { type: 'string', default: process.env.INTEROP_KEYS_FILE || '' },
    keys: { type: 'string', default: process.env.INTEROP_KEYS || 'k1' },
    lifetime: { type: 'string', default: process.env.INTEROP_LIFETIME_S || '600' },
  },
  strict: true,
});

const port = Number(args.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`bad port ${args.port}`);
const lifetime = Number(args.lifetime);
if (!Number.isFinite(lifetime) || lifetime <= 0) fail(`bad lifetime ${args.lifetime}`);
const names = args.keys.split(',').map((s) => s.trim()).filter(Boolean);
if (names.length === 0 || names.some((n) => !/^[A-Za-z0-9_-]+$/.test(n))) {
  fail(`bad key list ${args.keys}`);
}

// Bounded lifetime, and no orphan: exit when the parent that started us is gone.
setTimeout(() => {
  console.error(`provider: lifetime of ${lifetime}s is over, exiting`);
  process.exit(0);
}, lifetime * 1000).unref();
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) {
    console.error('provider: parent process is gone, exiting');
    process.exit(0);
  }
}, 500).unref();
for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP']) {
  process.on(signal, () => process.exit(0));
}

// Keys: private RSA JWKs by name, each with a kid that stays the same across restarts.
function newKey(name) {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    ...privateKey.export({ format: 'jwk' }),
    kid: `interop-${name}-${randomBytes(4).toString('hex')}`,
    alg: 'RS256',
    use: 'sig',
  };
}

const keysFile = args['keys-file'];
const store = keysFile && existsSync(keysFile) ? JSON.parse(readFileSync(keysFile, 'utf8')) : {};
let generated = false;
for (const name of names) {
  if (!store[name]) {
    store[name] = newKey(name);
    generated = true;
  }
}
if (keysFile && generated) {
  writeFileSync(`${keysFile}.tmp`, JSON.stringify(store), { mode: 0o600 });
  renameSync(`${keysFile}.tmp`, keysFile);
}
const keys = names.map((name) => store[name]);
const signingKid = keys[0].kid;

// Listen first (port 0 picks a free one), then build the provider for the bound port:
// the issuer must be known, exactly, before the provider exists.
let handler = (_req, res) => {
  res.statusCode = 503;
  res.end();
};
const server = createServer((req, res) => handler(req, res));
server.on('error', (e) => fail(`cannot listen on 127.0.0.1:${port}: ${e.message}`));
server.listen(port, '127.0.0.1', () => {
  const bound = server.address().port;
  const issuer = `http://127.0.0.1:${bound}`;

  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: CLIENT_ID,
        client_secret: CLIENT_SECRET,
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
        token_endpoint_auth_method: 'client_secret_basic',
        // No client `scope`: oidc-provider only accepts its own (OpenID) scopes there.
        // What a token may carry is decided per resource server, below.
      },
    ],
    jwks: { keys },
    features: {
      // Nothing here has an end-user: no login pages, no consent.
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      // RFC 9449: a token request with a DPoP proof gets a token bound to the proof's key
      // (token_type DPoP; cnf.jkt in the JWT and in the introspection answer). On by
      // default in oidc-provider 9; said here because the suite depends on it. No nonces
      // at the token endpoint (no nonceSecret): the resource server's are what is tested.
      dPoP: { enabled: true },
      // RFC 7662 and RFC 7009, authenticated with the client's token_endpoint_auth_method
      // (oidc-provider 9 has no separate introspection/revocation auth method). Only our
      // one confidential client may ask, and only about its own tokens.
      introspection: {
        enabled: true,
        allowedPolicy: async (_ctx, client, token) => client.clientId === CLIENT_ID
          && token.clientId === client.clientId,
      },
      revocation: {
        enabled: true,
        allowedPolicy: async (_ctx, client, token) => token.clientId === client.clientId,
      },
      resourceIndicators: {
        enabled: true,
        // No `resource` parameter: no resource server, so an opaque token.
        defaultResource: async (_ctx, _client, oneOf) => oneOf,
        getResourceServerInfo: async (_ctx, resourceIndicator) => {
          const server = RESOURCES[resourceIndicator];
          if (!server) throw new errors.InvalidTarget();
          if (server.format === 'opaque') {
            // A random handle; its claims (aud = the resource) only by introspection.
            return {
              audience: resourceIndicator,
              scope: server.scope,
              accessTokenTTL: 10 * 60,
              accessTokenFormat: 'opaque',
            };
          }
          return {
            audience: resourceIndicator,
            scope: server.scope,
            accessTokenTTL: 10 * 60,
            accessTokenFormat: 'jwt', // RFC 9068: typ at+jwt, signed with jwks
            jwt: { sign: { alg: 'RS256', kid: signingKid } },
          };
        },
        useGrantedResource: async () => true,
      },
    },
  });
  // Errors the provider would otherwise keep to itself.
  provider.on('server_error', (_ctx, err) => console.error('provider: server_error', err));
  provider.on('grant.error', (_ctx, err) => console.error('provider: grant.error', err.message));
  handler = provider.callback();

  const published = keys.map((k) => k.kid).join(',');
  console.log(`ready ${issuer} kid=${signingKid} published=${published}`);
});
