// Faults injected into the services for a test, and taken out again whatever happens.
import type { Kysely } from "kysely";
import type { CertificateAuthorities } from "../../src/services/certificate-authority.ts";
import type { Database } from "../../src/store/schema.ts";

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

/** `db` handing each query's operation tree, as JSON, to `see` before it runs (which may throw, failing the query). */
export function watchingQueries(db: Kysely<Database>, see: (query: string) => void): Kysely<Database> {
  return db.withPlugin({
    transformQuery: ({ node }) => {
      see(JSON.stringify(node));
      return node;
    },
    transformResult: async ({ result }) => result,
  });
}

/** `db` failing ("the store went away") every query that mentions `day`: a run fails once it reaches that day. */
export function failingFrom(db: Kysely<Database>, day: string): Kysely<Database> {
  return watchingQueries(db, (query) => {
    if (query.includes(`"${day}"`)) throw new Error("the store went away");
  });
}
