import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { describe, expect, it } from 'vitest';
import { createMemoryDatabase, createMemoryStore } from '../store/memory-store.ts';
import type { Store } from '../store/store.ts';
import { nodeTokenKeyPolicy } from './key-schedule.ts';
import { openNodeTokenKeyring, type StoredNodeTokenKey } from './node-token-keys.ts';
import { NODE_TOKEN_TYP, generateSigningKey } from './node-token.ts';

const ISSUER = 'https://gateway.tessera.test';
const T0 = Date.UTC(2030, 0, 1, 12);
const DELAY_SEC = 900;
const request = { aud: 'lombardia', sub: 'alice', project: 'diabetes-eu', body: '{}' };

async function newKey() {
  const { kid, privateJwk } = await generateSigningKey();
  return { kid, privateJwk };
}

/** A gateway's keyring on `store`, and a second replica's store on the same database to rotate from. */
async function setup() {
  const database = createMemoryDatabase();
  const store: Store = createMemoryStore({ database });
  const other: Store = createMemoryStore({ database });
  let nowMs = T0;
  const switches: string[] = [];
  const first = await store.getOrCreateSigningKey(newKey, new Date(T0));
  const keyring = await openNodeTokenKeyring({
    readKeys: () => store.listSigningKeys(),
    issuer: ISSUER,
    policy: nodeTokenKeyPolicy(DELAY_SEC),
    now: () => nowMs,
    onSigningKeyChange: (kid) => switches.push(kid),
  });
  return {
    store,
    other,
    keyring,
    first,
    switches,
    advance: (sec: number) => (nowMs += sec * 1000),
    now: () => new Date(nowMs),
  };
}

const kidOf = (token: string): string | undefined => decodeProtectedHeader(token).kid;

describe('openNodeTokenKeyring', () => {
  it('switches to a key rotated elsewhere after its delay, and publishes both meanwhile', async () => {
    const { other, keyring, first, switches, advance, now } = await setup();
    expect(kidOf(keyring.sign(request))).toBe(first.kid);
    expect(switches).toEqual([first.kid]);

    const second = await other.rotateSigningKey(newKey, now());
    // Published at once, to anyone asking for the JWKS...
    expect((await keyring.publishedJwks()).keys.map((k) => k.kid)).toEqual([second.kid, first.kid]);
    // ...but not signed with until the nodes have had time to fetch it.
    advance(DELAY_SEC - 1);
    await keyring.refresh();
    const lastOfFirst = keyring.sign(request);
    expect(kidOf(lastOfFirst)).toBe(first.kid);
    advance(1);
    const after = keyring.sign(request);
    expect(kidOf(after)).toBe(second.kid);
    expect(switches).toEqual([first.kid, second.kid]);

    // The last token signed before the switch still verifies against what is published.
    const jwks = createLocalJWKSet(await keyring.publishedJwks());
    for (const token of [lastOfFirst, after]) {
      const options = { issuer: ISSUER, audience: 'lombardia', typ: NODE_TOKEN_TYP };
      await expect(
        jwtVerify(token, jwks, { ...options, currentDate: now() }),
      ).resolves.toBeDefined();
    }
    // Once no token of the retired key can be honoured, it is no longer published.
    advance(34);
    expect((await keyring.publishedJwks()).keys).toHaveLength(2);
    advance(1);
    expect((await keyring.publishedJwks()).keys.map((k) => k.kid)).toEqual([second.kid]);
  });

  it('keeps signing with the keys it knows when a re-read fails or finds none', async () => {
    const { first } = await setup();
    let read: () => Promise<StoredNodeTokenKey[]> = () => Promise.resolve([first]);
    const keyring = await openNodeTokenKeyring({
      readKeys: () => read(),
      issuer: ISSUER,
      policy: nodeTokenKeyPolicy(DELAY_SEC),
    });
    read = () => Promise.reject(new Error('store down'));
    await expect(keyring.refresh()).rejects.toThrow('store down');
    read = () => Promise.resolve([]);
    await expect(keyring.refresh()).rejects.toThrow(/no signing key/);
    expect(kidOf(keyring.sign(request))).toBe(first.kid);
    await expect(
      openNodeTokenKeyring({ readKeys: read, issuer: ISSUER, policy: nodeTokenKeyPolicy(0) }),
    ).rejects.toThrow(/no signing key/);
  });
});
