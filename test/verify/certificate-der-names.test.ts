// cRLDistributionPoints' directoryNames are only checked for a readable form (certificate-der.ts
// walkName without formatting): the same names are readable, or left to the generic parser, as
// when their text was made.
import { test } from "node:test";
import assert from "node:assert/strict";
import { distributionPoints } from "../../src/verify/certificate-der.ts";

function tlv(tag: number, ...parts: Uint8Array[]): Uint8Array {
  const body = Buffer.concat(parts);
  const n = body.length;
  const length = n < 0x80 ? [n] : [0x81, n];
  return Uint8Array.from([tag, ...length, ...body]);
}
const OU = Uint8Array.of(0x06, 0x03, 0x55, 0x04, 0x0b);

/** CRLDistributionPoints with one point whose fullName is a directoryName of one OU in a string of tag `tag`. */
function pointWithName(tag: number, value: Uint8Array): { der: Uint8Array; name: Uint8Array } {
  const name = tlv(0x30, tlv(0x31, tlv(0x30, OU, tlv(tag, value))));
  return { der: tlv(0x30, tlv(0x30, tlv(0xa0, tlv(0xa0, tlv(0xa4, name))))), name };
}

test("a directoryName in ASCII or UTF-8 is read; one whose UTF8String is not UTF-8, or in another string type, is left to the generic parser", () => {
  for (const [tag, text] of [[0x0c, "Machida-shi CRLDP"], [0x0c, "町田市"], [0x13, "Machida"]] as const) {
    const { der, name } = pointWithName(tag, new TextEncoder().encode(text));
    assert.deepEqual(distributionPoints(der), { uris: [], directoryNames: [name] }, text);
  }
  assert.equal(distributionPoints(pointWithName(0x0c, Uint8Array.of(0x41, 0xff, 0x42)).der), undefined);
  assert.equal(distributionPoints(pointWithName(0x0c, Uint8Array.of(0xe7, 0x94)).der), undefined); // truncated UTF-8
  assert.equal(distributionPoints(pointWithName(0x1e, Uint8Array.of(0x00, 0x41)).der), undefined); // BMPString
});
