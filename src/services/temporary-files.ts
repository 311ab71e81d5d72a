/**
 * The durable replace the CLI publishes a CRL with (a temporary file beside the target, named as
 * the card's atomic files name theirs, so that one sweep removes what dead writers of either left).
 * Here for the CLI, which calls only services; the helper itself is the card's, which imports
 * nothing of ours.
 */
export { replaceDurably, type FileData } from "../card/atomic-file.ts";
