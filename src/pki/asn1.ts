import "reflect-metadata";
import { AsnConvert } from "@peculiar/asn1-schema";
import {
  AttributeTypeAndValue,
  AttributeValue,
  Name,
  RelativeDistinguishedName,
} from "@peculiar/asn1-x509";

/** The attribute types JPKI names use, in the order they appear. */
export const NAME_ATTRIBUTE_OID = {
  C: "2.5.4.6",
  O: "2.5.4.10",
  OU: "2.5.4.11",
  L: "2.5.4.7",
  CN: "2.5.4.3",
} as const;

export type NameAttribute = keyof typeof NAME_ATTRIBUTE_OID;
export type DistinguishedName = ReadonlyArray<readonly [NameAttribute, string]>;

/**
 * Build a Name with JPKI's encodings: C as PrintableString, everything else as UTF8String
 * (as in the real J-LIS roots, even for ASCII values). One attribute per RDN, in order.
 */
export function buildName(dn: DistinguishedName): Name {
  return new Name(
    dn.map(([type, value]) => {
      if (value.length === 0) throw new TypeError(`empty ${type} in a distinguished name`);
      const encoded =
        type === "C" ? new AttributeValue({ printableString: value }) : new AttributeValue({ utf8String: value });
      return new RelativeDistinguishedName([new AttributeTypeAndValue({ type: NAME_ATTRIBUTE_OID[type], value: encoded })]);
    }),
  );
}

export function nameDer(dn: DistinguishedName): Uint8Array {
  return new Uint8Array(AsnConvert.serialize(buildName(dn)));
}

/** Encode a UTF8String (tag 0x0C) as DER, for otherName values. */
export function utf8StringDer(value: string): ArrayBuffer {
  return derTlv(0x0c, new TextEncoder().encode(value));
}

function derTlv(tag: number, content: Uint8Array): ArrayBuffer {
  const n = content.length;
  const lengthBytes =
    n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : n < 0x10000 ? [0x82, n >> 8, n & 0xff] : [0x83, n >> 16, (n >> 8) & 0xff, n & 0xff];
  const out = new Uint8Array(1 + lengthBytes.length + n);
  out[0] = tag;
  out.set(lengthBytes, 1);
  out.set(content, 1 + lengthBytes.length);
  return out.buffer;
}

export function toArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}

export function hex(bytes: Uint8Array | ArrayBuffer): string {
  return Buffer.from(bytes instanceof ArrayBuffer ? new Uint8Array(bytes) : bytes).toString("hex").toUpperCase();
}
