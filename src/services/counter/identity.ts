/**
 * The identity check at the window (本人確認): which document was shown, with an optional note.
 * One list for the API's schema, the staff pages and the services.
 */
import { ServiceError } from "../errors.ts";
import { freeText } from "../free-text.ts";

export const IDENTITY_DOCUMENTS = ["my-number-card", "driver-licence", "passport", "residence-card", "other"] as const;

export type IdentityDocument = (typeof IDENTITY_DOCUMENTS)[number];

export interface IdentityCheck {
  document: IdentityDocument;
  note?: string;
}

/** The identity check with its document known and its free-text note checked (a blank note is dropped); `prefix` names the input. */
export function checkedIdentity(identity: IdentityCheck, prefix: string): IdentityCheck {
  const { document, note } = identity;
  if (!(IDENTITY_DOCUMENTS as readonly string[]).includes(document)) {
    throw new ServiceError("invalid-input", `${prefix}.document: one of ${IDENTITY_DOCUMENTS.join(", ")}`, `${prefix}.document`);
  }
  if (note === undefined || note === null || (typeof note === "string" && note.trim() === "")) return { document };
  return { document, note: freeText(note, `${prefix}.note`, 200) };
}
