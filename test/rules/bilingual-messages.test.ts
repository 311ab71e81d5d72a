// The rules write each refusal in Japanese and English where they throw it (no lookup afterwards
// that a reworded English message would silently miss).
import { testBilingualRefusals } from "./bilingual.ts";
import { RULE_REFUSALS } from "./refusals.ts";

testBilingualRefusals("rules", "RuleInputError", RULE_REFUSALS);
