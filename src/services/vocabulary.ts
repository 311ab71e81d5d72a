/**
 * The JPKI words the outer layers (http, web, cli) name things with: which CA, the revocation
 * reasons, the kinds of proxy. They are defined by the rules and pki layers; the outer layers
 * take them from here, since they call only services. Names only: the work that uses them is in
 * the services.
 */
export type { CaType } from "../pki/jpki-profile.ts";
export { REVOCATION_REASON_CODE, REVOCATION_REASON_MEANING, type RevocationReason } from "../rules/revocation.ts";
export { PROXY_TYPES, type ProxyType } from "../rules/proxy.ts";
