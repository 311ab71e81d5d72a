/**
 * What happens to the two certificates when something happens to their holder (spec §2.2), and
 * which RFC 5280 CRLReason records it (spec §1.5, J-LIS CPS §4.9.9 as relayed by P8N).
 *
 * A hold (certificateHold) is never released: J-LIS revokes held certificates when a lost card
 * turns up and issues new ones. So nothing here ever produces "removeFromCRL" (8), and callers
 * must not offer to lift a hold.
 */
import { fail, quote } from "./errors.ts";

export type RevocationReason =
  | "unspecified"
  | "keyCompromise"
  | "cACompromise"
  | "affiliationChanged"
  | "superseded"
  | "cessationOfOperation"
  | "certificateHold";

/** RFC 5280 §5.3.1 CRLReason codes. */
export const REVOCATION_REASON_CODE: Readonly<Record<RevocationReason, number>> = {
  unspecified: 0,
  keyCompromise: 1,
  cACompromise: 2,
  affiliationChanged: 3,
  superseded: 4,
  cessationOfOperation: 5,
  certificateHold: 6,
};

/** What J-LIS means by each reason (spec §1.5). */
export const REVOCATION_REASON_MEANING: Readonly<Record<RevocationReason, { ja: string; en: string }>> = {
  unspecified: { ja: "交付前に破棄", en: "destroyed before delivery" },
  keyCompromise: { ja: "利用者の秘密鍵の危殆化", en: "the holder's private key was compromised" },
  cACompromise: { ja: "認証局の秘密鍵の危殆化", en: "the CA's private key was compromised" },
  affiliationChanged: {
    ja: "証明書の記載事項の変更（基本4情報の異動）",
    en: "the certificate's contents changed (name, address, date of birth or gender)",
  },
  superseded: { ja: "電子証明書の更新", en: "the certificate was renewed" },
  cessationOfOperation: { ja: "電子証明書が不要になった（利用の終了）", en: "the certificate is no longer needed or used" },
  certificateHold: {
    ja: "鍵の安全性に疑いがあるための一時保留（保留の解除は行わない）",
    en: "put on hold because the key's safety is in doubt (a hold is never released)",
  },
};

export type RegisteredAttribute = "name" | "address" | "birth" | "gender";

export type RegistryEvent =
  /** Name, address, date of birth or gender changed on the 住民票. */
  | { kind: "attribute-change"; attributes: RegisteredAttribute[] }
  | { kind: "death" }
  /** The card was returned (返納) or became invalid. */
  | { kind: "card-return" }
  /** Moving out of Japan; `continuedUse` = 国外転出者による継続利用 was filed (from 2024-05-27). */
  | { kind: "emigration"; continuedUse: boolean }
  /** Loss or theft reported to the call centre. */
  | { kind: "loss-report" }
  /** A new certificate of `type` was issued as a renewal, replacing the current one. */
  | { kind: "renewal"; type: "sign" | "auth" }
  /** The holder asked for revocation (失効申請) of one certificate, or of both when `type` is absent. */
  | { kind: "holder-request"; type?: "sign" | "auth" }
  /** A card reported lost was found: its held certificates are revoked, never released. */
  | { kind: "card-found" };

export interface Revocations {
  sign?: RevocationReason;
  auth?: RevocationReason;
}

const ATTRIBUTES: readonly RegisteredAttribute[] = ["name", "address", "birth", "gender"];

function checkType(value: unknown, field: string): "sign" | "auth" {
  if (value !== "sign" && value !== "auth") fail(field, "sign（署名用）か auth（利用者証明用）を指定してください", `expected "sign" or "auth", got ${quote(value)}`);
  return value;
}

function only(type: "sign" | "auth", reason: RevocationReason): Revocations {
  return type === "sign" ? { sign: reason } : { auth: reason };
}

/**
 * Which of the holder's certificates an event revokes, and with which reason. A certificate
 * absent from the result is untouched. Callers apply a reason only to a certificate the holder
 * actually has in a state that allows it (a revoked one stays revoked).
 */
export function revocationsFor(event: RegistryEvent): Revocations {
  const kind: unknown = (event as { kind?: unknown } | null)?.kind;
  switch (event?.kind) {
    case "attribute-change": {
      // The four attributes are printed in the signing certificate, so it becomes untrue; the
      // authentication certificate carries none of them and survives (異動等失効, law art. 12).
      const list: unknown = event.attributes;
      if (!Array.isArray(list) || list.length === 0) fail("attributes", "変更のあった項目を1つ以上指定してください", "name at least one changed attribute");
      for (const a of list) {
        if (!ATTRIBUTES.includes(a as RegisteredAttribute)) {
          fail(
            "attributes",
            "変更のあった項目は name（氏名）、address（住所）、birth（生年月日）、gender（性別）で指定してください",
            `${quote(a)} is not one of name, address, birth, gender`,
          );
        }
      }
      return { sign: "affiliationChanged" };
    }
    case "death":
      // Which reason J-LIS records for death is open (spec §8.7). Nothing in the certificate
      // became untrue and the key is not in doubt; the certificates simply have no holder any
      // more, which is what cessationOfOperation says. The card dies with the register entry.
      return { sign: "cessationOfOperation", auth: "cessationOfOperation" };
    case "card-return":
      return { sign: "cessationOfOperation", auth: "cessationOfOperation" };
    case "emigration": {
      if (typeof event.continuedUse !== "boolean") fail("continuedUse", "true か false を指定してください", "expected true or false");
      // With continued use the card stays valid: the signing certificate, which carries the
      // domestic address, is revoked on departure (a new one is issued from the 戸籍の附票), and
      // the authentication certificate is kept. That is a change of contents (the address), hence
      // affiliationChanged. Without it the register entry is deleted and the card becomes
      // invalid, like a returned card.
      return event.continuedUse
        ? { sign: "affiliationChanged" }
        : { sign: "cessationOfOperation", auth: "cessationOfOperation" };
    }
    case "loss-report":
      return { sign: "certificateHold", auth: "certificateHold" };
    case "renewal":
      return only(checkType(event.type, "type"), "superseded");
    case "holder-request":
      if (event.type === undefined) return { sign: "cessationOfOperation", auth: "cessationOfOperation" };
      return only(checkType(event.type, "type"), "cessationOfOperation");
    case "card-found":
      // The hold was placed because the key's safety was in doubt, and finding the card does not
      // remove the doubt: someone else had it and may have used it. J-LIS therefore never lifts
      // the hold but revokes and reissues (spec §2.2, lost.html). keyCompromise is the reason
      // that keeps that doubt on record, so a relying party does not accept signatures made
      // while the card was missing. Applies to the certificates that are on hold.
      return { sign: "keyCompromise", auth: "keyCompromise" };
    default:
      return fail("kind", "この異動の種類は扱えません", `${quote(kind)} is not a known registry event`);
  }
}
