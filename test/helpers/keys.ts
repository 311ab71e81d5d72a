import { generateKeyPairSync, type KeyObject } from "node:crypto";

/** RSA-2048 keygen costs ~100 ms, so tests share a small pool made once per process. */
const pool: KeyObject[] = [];

export function testPublicKeys(count: number): KeyObject[] {
  while (pool.length < count) pool.push(generateKeyPairSync("rsa", { modulusLength: 2048 }).publicKey);
  return pool.slice(0, count);
}

export function testKeyPair(): { publicKey: KeyObject; privateKey: KeyObject } {
  return generateKeyPairSync("rsa", { modulusLength: 2048 });
}
