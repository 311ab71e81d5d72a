/**
 * Temporary files written beside a file and renamed over it, named as the card's atomic files name
 * theirs (`.<name>.<pid>.<hex>.tmp`), so that one sweep removes what dead writers of either left;
 * and the durable replace the CLI publishes a CRL with.
 * Here for the CLI, which calls only services; the helpers themselves are the card's, which
 * imports nothing of ours.
 */
export { removeDeadWritersTemporaries, replaceDurably, temporaryName } from "../card/atomic-file.ts";
