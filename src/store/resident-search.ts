/**
 * The resident register's search key (residents.search_text): what the counter's search compares a
 * query against, kept in the row so the store filters in SQL instead of the service reading the
 * whole register into memory to compare there.
 *
 * The comparison (src/services/registry.ts `search`): a query is found in a resident when it
 * occurs in their name, id or address, each compared in NFKC (full-width digits and letters as
 * ASCII), without white space, in lower case. The key holds the three parts so compared, joined by
 * a line feed: a query has no white space, so it never matches across two parts.
 *
 * It lives in the store because the migration that adds the column computes it for the rows
 * already there; the registry and the register events write it with each change of name or address.
 * Changing what `searchable` does needs a new migration that writes every row's key again: the
 * keys already stored would otherwise stop matching what queries are turned into.
 */
export function searchable(value: string): string {
  return value.normalize("NFKC").replace(/\s+/gu, "").toLowerCase();
}

export function residentSearchText(resident: { id: string; name: string; address: string }): string {
  return [resident.name, resident.id, resident.address].map(searchable).join("\n");
}

/** A LIKE pattern for "contains `needle`", with LIKE's own characters (and the escape) escaped by `\`. */
export function containsPattern(needle: string): string {
  return `%${needle.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}
