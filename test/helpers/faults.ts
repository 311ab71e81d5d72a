// Faults injected into the services for a test, and taken out again whatever happens.
import type { CertificateAuthorities } from "../../src/services/certificate-authority.ts";

/** Run `body` while the CA's issue() throws, as a store gone away would: a procedure fails after the key was made on the chip. */
export async function whileIssuanceFails<T>(ca: CertificateAuthorities, body: () => Promise<T>): Promise<T> {
  const issue = ca.issue;
  ca.issue = async () => {
    throw new Error("the store went away");
  };
  try {
    return await body();
  } finally {
    ca.issue = issue;
  }
}
