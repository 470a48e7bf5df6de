// A DPoP client for tokengate's interoperability suite (RFC 9449): proofs are made by the
// npm `dpop` package (panva's client implementation, the one openid-client uses), never
// by hand, so what the examples are checked against is what real clients send.
//
//   node dpop.mjs key FILE
//       a new ES256 key pair; its private JWK is written to FILE (mode 0600)
//   node dpop.mjs token FILE ISSUER SCOPE [RESOURCE]
//       a DPoP-bound access token for the key in FILE, from ISSUER's token endpoint
//       (client_credentials, HTTP Basic as interop-client, a proof for POST ISSUER/token);
//       prints the access token; fails unless the provider answered token_type DPoP
//   node dpop.mjs proof FILE HTM HTU [--token T] [--nonce N] [--clock-skew SECONDS]
//       prints a proof for HTM HTU signed with the key in FILE: with `ath` for access
//       token T, `nonce` N, and made by a client whose clock is SECONDS off (negative:
//       behind), which is how a stale `iat` happens
//
// Exits 2 with a message on stderr on any error.

import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

import * as DPoP from 'dpop';

// provider.mjs's client (importing provider.mjs would start a provider).
const CLIENT_ID = 'interop-client';
const CLIENT_SECRET = 'interop-secret';
const ALG = 'ES256';
const CURVE = { name: 'ECDSA', namedCurve: 'P-256' };

function fail(message) {
  console.error(`dpop: ${message}`);
  process.exit(2);
}

async function newKey(file) {
  const { privateKey } = await DPoP.generateKeyPair(ALG, { extractable: true });
  const jwk = await crypto.subtle.exportKey('jwk', privateKey);
  writeFileSync(file, JSON.stringify(jwk), { mode: 0o600 });
}

// The key pair of FILE, as `dpop` wants it: a private signing key and an extractable
// public key (it embeds the public JWK in the proof header).
async function loadKey(file) {
  const jwk = JSON.parse(readFileSync(file, 'utf8'));
  const { kty, crv, x, y } = jwk;
  return {
    privateKey: await crypto.subtle.importKey('jwk', jwk, CURVE, false, ['sign']),
    publicKey: await crypto.subtle.importKey('jwk', { kty, crv, x, y }, CURVE, true, ['verify']),
  };
}

async function proof(keypair, htm, htu, { token, nonce, skew = 0 } = {}) {
  if (!skew) return DPoP.generateProof(keypair, htu, htm, nonce, token);
  // `dpop` stamps `iat` from the clock; a client with a wrong clock stamps a wrong one.
  const now = Date.now;
  Date.now = () => now() + skew * 1000;
  try {
    return await DPoP.generateProof(keypair, htu, htm, nonce, token);
  } finally {
    Date.now = now;
  }
}

async function token(keypair, issuer, scope, resource) {
  const endpoint = `${issuer}/token`;
  const body = new URLSearchParams({ grant_type: 'client_credentials', scope });
  if (resource) body.set('resource', resource);
  const basic = Buffer.from(`${CLIENT_ID}:${CLIENT_SECRET}`).toString('base64');
  const response = await fetch(endpoint, {
    method: 'POST',
    headers: {
      authorization: `Basic ${basic}`,
      'content-type': 'application/x-www-form-urlencoded',
      dpop: await proof(keypair, 'POST', endpoint),
    },
    body,
    signal: AbortSignal.timeout(10_000),
  });
  const answer = await response.json().catch(() => ({}));
  if (!response.ok || typeof answer.access_token !== 'string') {
    fail(`the token endpoint answered HTTP ${response.status}: ${JSON.stringify(answer)}`);
  }
  if (answer.token_type !== 'DPoP') {
    fail(`token_type ${JSON.stringify(answer.token_type)}, expected DPoP (RFC 9449 section 5)`);
  }
  return answer.access_token;
}

const [command, ...rest] = process.argv.slice(2);
try {
  switch (command) {
    case 'key': {
      const [file] = rest;
      if (!file) fail('usage: key FILE');
      await newKey(file);
      break;
    }
    case 'token': {
      const [file, issuer, scope, resource] = rest;
      if (!file || !issuer || !scope) fail('usage: token FILE ISSUER SCOPE [RESOURCE]');
      process.stdout.write(await token(await loadKey(file), issuer, scope, resource));
      break;
    }
    case 'proof': {
      const { values, positionals } = parseArgs({
        args: rest,
        options: {
          token: { type: 'string' },
          nonce: { type: 'string' },
          'clock-skew': { type: 'string', default: '0' },
        },
        allowPositionals: true,
        strict: true,
      });
      const [file, htm, htu] = positionals;
      if (!file || !htm || !htu || positionals.length !== 3) {
        fail('usage: proof FILE HTM HTU [--token T] [--nonce N] [--clock-skew SECONDS]');
      }
      const skew = Number(values['clock-skew']);
      if (!Number.isFinite(skew)) fail(`bad --clock-skew ${values['clock-skew']}`);
      const made = await proof(await loadKey(file), htm, htu, {
        token: values.token,
        nonce: values.nonce,
        skew,
      });
      process.stdout.write(made);
      break;
    }
    default:
      fail('usage: key FILE | token FILE ISSUER SCOPE [RESOURCE] | proof FILE HTM HTU [...]');
  }
} catch (e) {
  fail(e.message);
}
