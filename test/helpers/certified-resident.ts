/**
 * A registered resident holding a valid authentication and signing certificate (issued by the
 * context's CAs over the given keys, with no card): what register-event tests start from.
 */
import type { KeyObject } from "node:crypto";
import type { Context } from "../../src/services/context.ts";

export async function certifiedResident(
  context: Context,
  keys: readonly [KeyObject, KeyObject],
  name: string,
  extra: { address?: string; nationality?: string; residenceEnd?: string } = {},
) {
  const { address = "東京都町田市森野２－２－２２", ...rest } = extra;
  const resident = await context.registry.add({ name, birth: "1980-04-01", gender: "1", address, municipality: "132098", ...rest });
  const auth = await context.ca.issue({ type: "auth", residentId: resident.id, subjectPublicKey: keys[0] });
  const sign = await context.ca.issue({ type: "sign", residentId: resident.id, subjectPublicKey: keys[1] });
  return { resident, auth: auth.serialHex, sign: sign.serialHex };
}
