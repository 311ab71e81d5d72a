/**
 * The legal representative (法定代理人) who applies at the window for a child under 15 or an
 * adult under guardianship (成年被後見人), spec §2.1: they cannot apply alone, and for a child
 * under 15 the representative also sets the PINs. This is the same-day window procedure with
 * the representative present — not the proxy application (代理人申請, proxy type "legal"),
 * which has its own two-visit flow.
 */
import type { JapanDate } from "../../rules/japan-date.ts";
import { representationGrounds, type SigningRefusal } from "../../rules/eligibility.ts";
import { ServiceError } from "../errors.ts";
import { inputErrorAs } from "../input-errors.ts";
import { freeText } from "../free-text.ts";
import { checkedIdentity, IDENTITY_DOCUMENTS, type IdentityCheck } from "./identity.ts";

export type LegalRepresentativeRelationship = "parent" | "minor-guardian" | "adult-guardian";

export const LEGAL_REPRESENTATIVE_RELATIONSHIPS: readonly LegalRepresentativeRelationship[] = ["parent", "minor-guardian", "adult-guardian"];

export const RELATIONSHIP_LABEL: Record<LegalRepresentativeRelationship, { ja: string; en: string }> = {
  parent: { ja: "親権者", en: "parent (parental authority)" },
  "minor-guardian": { ja: "未成年後見人", en: "guardian of a minor" },
  "adult-guardian": { ja: "成年後見人", en: "adult guardian" },
};

export interface LegalRepresentative {
  name: string;
  relationship: LegalRepresentativeRelationship;
  /** The representative's own identity check (the holder's is the procedure's `identity`). */
  identity: IdentityCheck;
}

/** A legal representative as recorded: applications recorded before the representative's identity check was taken lack it. */
export type RecordedLegalRepresentative = Omit<LegalRepresentative, "identity"> & { identity?: IdentityCheck };

/** A legal representative as given at the window, before it is checked against the holder. */
export interface LegalRepresentativeInput {
  name: string;
  relationship: string;
  identity?: IdentityCheck | null;
}

/** Why the holder cannot apply alone: a child under 15, an adult under guardianship (rarely both). */
type RepresentationGround = SigningRefusal;

/** Which relationships represent whom: parents and guardians of minors a child, adult guardians an adult under guardianship. */
const REPRESENTS: Record<LegalRepresentativeRelationship, RepresentationGround> = {
  parent: "under-15",
  "minor-guardian": "under-15",
  "adult-guardian": "guardianship",
};

/** The grounds on `on` (a Japan date) for the holder to apply through a legal representative; none for anyone else. */
function groundsOf(holder: { birth: JapanDate; guardianship: boolean }, on: JapanDate): RepresentationGround[] {
  try {
    return representationGrounds({ birth: holder.birth, on, guardianship: holder.guardianship });
  } catch (error) {
    throw inputErrorAs(error, "invalid-input");
  }
}

/**
 * The legal representative for a procedure applied for on `on`, checked: required (with a
 * relationship that fits) for a child under 15 or an adult under guardianship, refused for
 * anyone else — they apply in person, or through the proxy application. The name is free text
 * that goes to the application and the audit trail, so it is checked like the others; the
 * representative's own identity check is required, as the holder's is.
 */
export function checkedLegalRepresentative(
  given: LegalRepresentativeInput | undefined | null,
  holder: { birth: JapanDate; guardianship: boolean },
  on: JapanDate,
): LegalRepresentative | undefined {
  const grounds = groundsOf(holder, on);
  if (grounds.length === 0) {
    if (given === undefined || given === null) return undefined;
    throw new ServiceError(
      "invalid-input",
      "15歳以上で成年被後見人でない方は、本人が申請します（法定代理人は記録しません。代理人による申請は「代理人による申請」の手続きで）/ legalRepresentative: the holder is 15 or over and not under guardianship, so they apply in person (a proxy uses the proxy application)",
      "legalRepresentative",
      { reason: "legal-representative-not-needed" },
    );
  }
  if (given === undefined || given === null) {
    throw new ServiceError(
      "invalid-input",
      grounds[0] === "under-15"
        ? "15歳未満の方の手続きは法定代理人（親権者または未成年後見人）が申請し、暗証番号も法定代理人が設定します。法定代理人の氏名と本人との関係を入力してください / legalRepresentative: for a child under 15 the legal representative (a parent or a guardian of a minor) applies and sets the PINs: give the representative's name and relationship"
        : "成年被後見人の方の手続きは法定代理人（成年後見人）が申請します。法定代理人の氏名と本人との関係を入力してください / legalRepresentative: for an adult under guardianship the legal representative (the adult guardian) applies: give the representative's name and relationship",
      "legalRepresentative",
      { reason: "legal-representative-required" },
    );
  }
  const relationship = given.relationship;
  if (typeof relationship !== "string" || !(LEGAL_REPRESENTATIVE_RELATIONSHIPS as readonly string[]).includes(relationship)) {
    throw new ServiceError(
      "invalid-input",
      `法定代理人と本人との関係を選んでください（親権者・未成年後見人・成年後見人）/ legalRepresentative.relationship: one of ${LEGAL_REPRESENTATIVE_RELATIONSHIPS.join(", ")}`,
      "legalRepresentative.relationship",
    );
  }
  const fits = relationship as LegalRepresentativeRelationship;
  if (!grounds.includes(REPRESENTS[fits])) {
    const { ja, en } = RELATIONSHIP_LABEL[fits];
    throw new ServiceError(
      "invalid-input",
      REPRESENTS[fits] === "under-15"
        ? `${ja}は15歳未満の方の法定代理人です。この方の法定代理人は成年後見人です / legalRepresentative.relationship: a ${en} represents a child under 15; this holder's legal representative is their adult guardian`
        : `${ja}は成年被後見人の方の法定代理人です。15歳未満の方の法定代理人は親権者または未成年後見人です / legalRepresentative.relationship: an ${en} represents an adult under guardianship; a child under 15 is represented by a parent or a guardian of a minor`,
      "legalRepresentative.relationship",
      { reason: "legal-representative-mismatch" },
    );
  }
  // Not read before the checks above: a missing name is reported after a missing representative.
  const name = freeText(given.name ?? "", "legalRepresentative.name", 100);
  if (given.identity === undefined || given.identity === null) {
    throw new ServiceError(
      "invalid-input",
      "法定代理人の本人確認書類を選んでください / legalRepresentative.identity: the identity document the representative showed",
      "legalRepresentative.identity",
    );
  }
  return { name, relationship: fits, identity: checkedIdentity(given.identity, "legalRepresentative.identity") };
}

/** The legal representative recorded in an application's details (applications.detail, JSON), if any. */
export function recordedLegalRepresentative(detail: string): RecordedLegalRepresentative | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(detail);
  } catch {
    return undefined;
  }
  const recorded = (parsed as { legalRepresentative?: unknown } | null)?.legalRepresentative as Partial<LegalRepresentative> | undefined;
  if (!recorded || typeof recorded.name !== "string" || !(LEGAL_REPRESENTATIVE_RELATIONSHIPS as readonly string[]).includes(String(recorded.relationship))) return undefined;
  const identity = recorded.identity;
  const known = identity && (IDENTITY_DOCUMENTS as readonly string[]).includes(String(identity.document)) ? { identity: { document: identity.document, ...(typeof identity.note === "string" ? { note: identity.note } : {}) } } : {};
  return { name: recorded.name, relationship: recorded.relationship as LegalRepresentativeRelationship, ...known };
}
