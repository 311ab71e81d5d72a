// The JPKI profile writes each refusal in Japanese and English where it throws it: it may import
// nothing of ours, so no service can add the Japanese later.
import { testBilingualRefusals } from "../rules/bilingual.ts";
import { PROFILE_REFUSALS } from "./refusals.ts";

testBilingualRefusals("profile", "ProfileInputError", PROFILE_REFUSALS);
