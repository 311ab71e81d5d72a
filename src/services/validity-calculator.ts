import { certificateValidity, type CertificateValidity } from "../rules/validity.ts";
import { parseDateOrInstant, parseJapanDate } from "../rules/japan-date.ts";
import { ServiceError } from "./errors.ts";
import { inputErrorAs, isInputError } from "./input-errors.ts";

/** The rules' names for the caps, and the options an operator typed them as. */
const OPTION_OF: Readonly<Record<string, string>> = { cardExpiry: "card-expiry", residenceEnd: "residence-end", authExpiry: "auth-expiry" };

/** The facts the validity rules need, as an operator types them (dates YYYY-MM-DD). */
export interface ValidityQuestion {
  birth: string;
  /** The date of issuance, or an instant with Z or an offset (its Japan date counts). */
  issued: string;
  /** Issued as a renewal while fewer than three months remained (runs to the 6th birthday). */
  renewal?: boolean;
  /** The holder is an adult under guardianship (成年被後見人): no signing certificate. */
  guardianship?: boolean;
  /** The card's expiry (caps both certificates). */
  cardExpiry?: string;
  /** The end of a foreign resident's period of stay. */
  residenceEnd?: string;
  /** The holder's authentication-certificate expiry (caps the signing certificate). */
  authExpiry?: string;
}

/**
 * Both certificates' expiry and renewal window, and whether a signing certificate may be
 * issued, for someone who has no resident record (`openjpki rules validity`). Input the rules
 * cannot work with is a ServiceError "invalid-input" whose field is the input's option name
 * (birth, issued, card-expiry, residence-end, auth-expiry) and whose message is the rule's.
 */
export function certificateValidityFor(question: ValidityQuestion): CertificateValidity {
  try {
    // The caps are read first, so a bad cap is reported before a bad birth or issuance date.
    const cardExpiry = optionalDate(question.cardExpiry, "card-expiry");
    const residenceEnd = optionalDate(question.residenceEnd, "residence-end");
    const authExpiry = optionalDate(question.authExpiry, "auth-expiry");
    return certificateValidity({
      birth: parseJapanDate(question.birth, "birth"),
      issued: parseDateOrInstant(question.issued, "issued"),
      renewal: question.renewal === true,
      guardianship: question.guardianship === true,
      cardExpiry,
      residenceEnd,
      authExpiry,
    });
  } catch (error) {
    // A cap the rules refuse (before the issuance date) is named as the option it came from.
    const option = isInputError(error) ? OPTION_OF[error.field] : undefined;
    if (option !== undefined && isInputError(error)) {
      throw new ServiceError("invalid-input", `${option}: ${error.message.slice(error.field.length + 2)}`, option, { cause: error });
    }
    throw inputErrorAs(error, "invalid-input");
  }
}

function optionalDate(text: string | undefined, field: string): string | undefined {
  return text === undefined ? undefined : parseJapanDate(text, field);
}
