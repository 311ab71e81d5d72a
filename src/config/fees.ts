/**
 * Window fees (手数料, spec §2.6). First issuance, renewal and new issuance after expiry are free;
 * a reissue after a loss or damage the holder caused is charged — typically card 800 yen plus
 * certificates 200 yen (some cities charge 1,000 yen in total, which the same two amounts give).
 * A deployment sets its own amounts here or through the environment.
 */
export interface FeeSchedule {
  /** 再交付手数料: the card itself. */
  reissueCardYen: number;
  /** 電子証明書の再発行: charged when certificates are loaded onto the reissued card. */
  reissueCertificatesYen: number;
  /** A card this close to its expiry (months) is reissued free: the holder would renew anyway. */
  freeWithinMonthsOfExpiry: number;
}

export const DEFAULT_FEES: FeeSchedule = {
  reissueCardYen: 800,
  reissueCertificatesYen: 200,
  freeWithinMonthsOfExpiry: 3,
};

/**
 * The schedule from the environment: `OPENJPKI_FEE_REISSUE_CARD_YEN` and
 * `OPENJPKI_FEE_REISSUE_CERTIFICATES_YEN` (whole yen, 0–100000) override the defaults.
 */
export function feeScheduleFrom(env: NodeJS.ProcessEnv, base: FeeSchedule = DEFAULT_FEES): FeeSchedule {
  const read = (name: string, fallback: number): number => {
    const text = env[name];
    if (text === undefined || text === "") return fallback;
    if (!/^\d{1,6}$/.test(text) || Number(text) > 100_000) throw new Error(`${name}: expected whole yen from 0 to 100000, got ${JSON.stringify(text)}`);
    return Number(text);
  };
  return {
    ...base,
    reissueCardYen: read("OPENJPKI_FEE_REISSUE_CARD_YEN", base.reissueCardYen),
    reissueCertificatesYen: read("OPENJPKI_FEE_REISSUE_CERTIFICATES_YEN", base.reissueCertificatesYen),
  };
}
