'use strict';
// Runs a batch of request-crypto operations for the Python interop tests and benchmark.
// Usage: node rc.cjs <install dir (holds node_modules/)> <job.json>
// job = {"cases": [{"id": ..., "op": ..., ...}]}; paths in a case are files; large inputs and
// outputs go through files. Prints one JSON array of results ({"id", "ok", ...}) to stdout.
const fs = require('fs');
const path = require('path');
const { createRequire } = require('module');

const [installDir, jobFile] = process.argv.slice(2);
const load = createRequire(path.join(path.resolve(installDir), '_resolver.js'));
const readJSON = (file) => JSON.parse(fs.readFileSync(file, 'utf8'));
const nowMs = () => Number(process.hrtime.bigint()) / 1e6;
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

const cache = new Map();
async function memo(key, make) {
  if (!cache.has(key)) cache.set(key, await make());
  return cache.get(key);
}
const encryptorFor = (pkg, jwksFile) =>
  memo(`enc:${pkg}:${jwksFile}`, () => load(pkg).createRequestEncryptor(readJSON(jwksFile)));
const decryptorFor = (pkg, jwksFile) =>
  memo(`dec:${pkg}:${jwksFile}`, () => load(pkg).createRequestDecryptor(readJSON(jwksFile)));

// A 3.x-style sender: node-jose with the key's `alg` dropped, so that a key stamped RSA-OAEP
// wraps with RSA-OAEP-256 (how request-crypto's own migration notes make 3.x vectors).
async function encryptV3Style(c) {
  const jose = load('node-jose');
  const nodeCrypto = load('@elastic/node-crypto').default || load('@elastic/node-crypto');
  const jwk = readJSON(c.publicJwks).keys.find((k) => k.kid === c.kid);
  const { alg, ...bare } = jwk;
  const key = await jose.JWK.asKey(bare);
  const passphrase = require('crypto').randomBytes(32);
  const encryptedPayload = await nodeCrypto({ encryptionKey: passphrase }).encrypt(readJSON(c.payloadFile));
  const encryptedAESKey = await jose.JWE.createEncrypt(
    { format: 'compact', zip: true, fields: { alg: 'RSA-OAEP-256' } }, key
  ).update(passphrase).final();
  return jose.util.base64url.encode(JSON.stringify({ encryptedAESKey, encryptedPayload }), 'utf8');
}

const ops = {
  async encrypt(c) {
    const enc = await encryptorFor(c.package, c.publicJwks);
    fs.writeFileSync(c.outFile, await enc.encrypt(c.kid, readJSON(c.payloadFile)));
    return {};
  },
  async 'encrypt-v3-style'(c) {
    fs.writeFileSync(c.outFile, await encryptV3Style(c));
    return {};
  },
  async decrypt(c) {
    const dec = await decryptorFor(c.package, c.privateJwks);
    const body = fs.readFileSync(c.bodyFile, 'utf8');
    const value = await dec.decrypt(body);
    fs.writeFileSync(c.outFile, JSON.stringify(value));
    const meta = await dec.getJWKMetadata(body);
    return { protected: meta.protected, header: meta.header };
  },
  async stringify(c) {
    fs.writeFileSync(c.outFile, JSON.stringify(readJSON(c.inFile).map((v) => JSON.stringify(v))));
    return {};
  },
  async 'bench-encrypt'(c) {
    const enc = await encryptorFor(c.package, c.publicJwks);
    const payload = readJSON(c.payloadFile);
    const times = [];
    for (let i = 0; i < c.reps; i++) {
      const t0 = nowMs();
      await enc.encrypt(c.kid, payload);
      times.push(nowMs() - t0);
    }
    return { medianMs: median(times), timesMs: times };
  },
  async 'bench-decrypt'(c) {
    const dec = await decryptorFor(c.package, c.privateJwks);
    const body = fs.readFileSync(c.bodyFile, 'utf8');
    const times = [];
    for (let i = 0; i < c.reps; i++) {
      const t0 = nowMs();
      await dec.decrypt(body);
      times.push(nowMs() - t0);
    }
    return { medianMs: median(times), timesMs: times };
  },
};

(async () => {
  const results = [];
  for (const c of readJSON(jobFile).cases) {
    try {
      if (!ops[c.op]) throw new Error(`unknown op ${c.op}`);
      results.push({ id: c.id, ok: true, ...(await ops[c.op](c)) });
    } catch (e) {
      results.push({ id: c.id, ok: false, error: String((e && e.message) || e) });
    }
  }
  process.stdout.write(JSON.stringify(results));
})().catch((e) => {
  process.stderr.write(String((e && e.stack) || e));
  process.exit(1);
});
