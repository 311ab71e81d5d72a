import { statusOnly } from "./apdu.ts";
import { SW, triesLeft } from "./status-words.ts";
import { pinReference, type CardContext, type Handler } from "./context.ts";
import type { PinEf } from "./files.ts";

/** Longest reference data VERIFY compares; longer data is a malformed command, not a try. */
export const MAX_PIN_LENGTH = 16;

/**
 * VERIFY (00 20 00 P2). Empty data asks for the tries left (63 Cx, always, even after a
 * successful VERIFY; 63 C0 when blocked). Otherwise the counter is decremented and
 * committed to storage *before* the PIN is compared, and restored only after a match:
 * whatever happens to the process or the power, no answer ever leaves the card for an
 * attempt that was not counted (spec §2.5; issue 7 "retry counters are durable").
 */
export const verify: Handler = async (ctx: CardContext, apdu) => {
  if (apdu.p1 !== 0x00) return statusOnly(SW.WRONG_P1P2);
  const ref = pinReference(ctx, apdu.p2);
  if ("sw" in ref) return statusOnly(ref.sw);
  const ef = ctx.ef(ref.fid) as PinEf;
  const record = ctx.pin(ref.fid);
  if (apdu.data.length === 0) return statusOnly(triesLeft(record.tries));
  if (apdu.data.length > MAX_PIN_LENGTH) return statusOnly(SW.WRONG_LENGTH);
  if (record.tries <= 0 || record.mac === null) return statusOnly(SW.AUTH_METHOD_BLOCKED);

  const key = ctx.storageKey(ctx.state.currentAp!, ref.fid);
  const left = record.tries - 1;
  ctx.state.verified.delete(ref.fid);
  await ctx.commit("verify-attempt", (d) => {
    d.pins[key] = { mac: record.mac, tries: left };
  });
  const matches = ctx.secrets.pinMatches(key, apdu.data, record.mac);
  // A second write either way: were it made only after a match, a storage failure there (6581)
  // would tell a right PIN from a wrong one (63Cx) without the PIN ever being verified.
  await ctx.commit(matches ? "verify-success" : "verify-failure", (d) => {
    d.pins[key] = { mac: record.mac, tries: matches ? ef.maxTries : left };
  });
  if (!matches) return statusOnly(triesLeft(left));
  ctx.state.verified.add(ref.fid);
  return statusOnly(SW.OK);
};

/**
 * CHANGE REFERENCE DATA (00 24 01 P2 <new PIN>): after the same PIN was verified in
 * this session. P1 00 (old and new concatenated) cannot be split without lengths and
 * no JPKI client sends it, so it is refused.
 */
export const changeReferenceData: Handler = async (ctx: CardContext, apdu) => {
  if (apdu.p1 !== 0x01) return statusOnly(SW.WRONG_P1P2);
  const ref = pinReference(ctx, apdu.p2);
  if ("sw" in ref) return statusOnly(ref.sw);
  const ef = ctx.ef(ref.fid) as PinEf;
  if (apdu.data.length === 0 || apdu.data.length > MAX_PIN_LENGTH) return statusOnly(SW.WRONG_LENGTH);
  if (!ef.settable) return statusOnly(SW.CONDITIONS_NOT_SATISFIED);
  if (!ctx.state.verified.has(ref.fid)) return statusOnly(SW.SECURITY_STATUS_NOT_SATISFIED);
  if (!ef.format(apdu.data)) return statusOnly(SW.WRONG_DATA);
  const key = ctx.storageKey(ctx.state.currentAp!, ref.fid);
  const mac = ctx.secrets.pinMac(key, apdu.data);
  await ctx.commit("change-pin", (d) => {
    d.pins[key] = { mac, tries: ef.maxTries };
  });
  return statusOnly(SW.OK);
};
