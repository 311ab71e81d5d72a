import { efTable, hex, digits, type ApDefinition } from "./files.ts";

/** 券面事項入力補助AP (spec card-protocol §3.1). */
export const KENHOJO_AID = hex("D3921000310001010408");

export const KENHOJO_EF = {
  MY_NUMBER: 0x0001,
  ATTRIBUTES: 0x0002,
  PIN: 0x0011,
  /** Always blocked on real cards. */
  BLOCKED_PIN: 0x0012,
  /** 照合番号A: the 12-digit My Number itself, opening only EF 0001. */
  MATCH_A: 0x0014,
} as const;

export const ATTRIBUTES_CAPACITY = 1024;

/** EF 0001 is exactly `FF 10 0C` + 12 ASCII digits + `FF FF`: myna reads exactly 17 bytes. */
export function validateMyNumber(content: Uint8Array): string | null {
  if (content.length !== 17) return "My Number EF must be 17 bytes";
  if (content[0] !== 0xff || content[1] !== 0x10 || content[2] !== 0x0c) return "My Number EF must start FF 10 0C";
  if (!digits(12)(content.subarray(3, 15))) return "My Number must be 12 ASCII digits";
  if (content[15] !== 0xff || content[16] !== 0xff) return "My Number EF must end FF FF";
  return null;
}

/** EF 0002 holds `FF 20 len {…}`: check the outer header and that the object fits. */
export function validateAttributes(content: Uint8Array): string | null {
  if (content.length < 4 || content[0] !== 0xff || content[1] !== 0x20) return "attributes must start FF 20";
  let len: number;
  let header: number;
  const b = content[2]!;
  if (b < 0x80) [len, header] = [b, 3];
  else if (b === 0x81 && content.length >= 4) [len, header] = [content[3]!, 4];
  else if (b === 0x82 && content.length >= 5) [len, header] = [(content[3]! << 8) | content[4]!, 5];
  else return "attributes length form not supported";
  if (header + len > content.length) return "attributes object longer than the data";
  return null;
}

/** The 12 digits of a valid EF 0001, used as the reference data of 照合番号A. */
export function myNumberDigits(content: Uint8Array): Uint8Array {
  return content.slice(3, 15);
}

export const KENHOJO_AP: ApDefinition = {
  id: "kenhojo",
  aid: KENHOJO_AID,
  efs: efTable([
    {
      kind: "binary",
      fid: KENHOJO_EF.MY_NUMBER,
      capacity: 17,
      readPins: [KENHOJO_EF.PIN, KENHOJO_EF.MATCH_A],
      validate: validateMyNumber,
    },
    {
      kind: "binary",
      fid: KENHOJO_EF.ATTRIBUTES,
      capacity: ATTRIBUTES_CAPACITY,
      readPins: [KENHOJO_EF.PIN],
      validate: validateAttributes,
    },
    { kind: "pin", fid: KENHOJO_EF.PIN, maxTries: 3, format: digits(4), settable: true },
    { kind: "pin", fid: KENHOJO_EF.BLOCKED_PIN, maxTries: 3, format: () => false, settable: false },
    { kind: "pin", fid: KENHOJO_EF.MATCH_A, maxTries: 10, format: digits(12), settable: false },
  ]),
};

/**
 * APs a real card also has but that JPKI clients do not use. They answer SELECT (so
 * selecting one clears the security state, as on a real card) and hold no EF we emulate.
 */
export const OTHER_APS: readonly ApDefinition[] = [
  { id: "kenkaku", aid: hex("D3921000310001010402"), efs: new Map() },
  { id: "juki", aid: hex("D3921000310001010401"), efs: new Map() },
  { id: "common", aid: hex("D3921000310001010100"), efs: new Map() },
];
