import { html, type SafeHtml } from "./html.ts";
import { adviceFor, localMessage } from "./i18n.ts";
import type { View } from "./layout.ts";
import { CSRF_FIELD } from "./csrf.ts";

/** A refusal as the pages show it: what happened, the stable reason, and what to do. */
export interface Problem {
  /** The form field at fault, when there is one (its input gets aria-invalid and the message). */
  field?: string;
  reason?: string;
  code?: string;
  message: string;
}

export function csrfField(v: View): SafeHtml {
  return html`<input type="hidden" name="${CSRF_FIELD}" value="${v.csrf}">`;
}

/**
 * The error box at the top of a form: announced at once (role=alert), focused on load so
 * keyboard and screen-reader users land on it, and linked to the field at fault.
 */
export function problemNotice(v: View, problem: Problem | undefined, fieldIds: Record<string, string> = {}): SafeHtml {
  if (!problem) return html``;
  const advice = adviceFor(problem.reason, problem.code);
  const target = problem.field ? fieldIds[problem.field] : undefined;
  return html`<div class="notice notice--error" role="alert" tabindex="-1" id="problem" autofocus>
<h2>${v.t("手続きできませんでした", "This could not be done")}</h2>
<p>${target ? html`<a href="#${target}">${localMessage(v.lang, problem.message)}</a>` : localMessage(v.lang, problem.message)}</p>
${advice ? html`<p><strong>${v.t("どうすればよいか：", "What to do: ")}</strong>${v.t(advice.ja, advice.en)}</p>` : ""}
${problem.reason || problem.code ? html`<p class="muted">${v.t("理由コード", "Reason code")}: <span class="reason">${problem.reason ?? problem.code}</span></p>` : ""}
</div>`;
}

export function successNotice(title: string, body: SafeHtml | string): SafeHtml {
  return html`<div class="notice notice--success" role="status"><h2>${title}</h2>${typeof body === "string" ? html`<p>${body}</p>` : body}</div>`;
}

export interface FieldOptions {
  id: string;
  name: string;
  label: string;
  hint?: string;
  type?: "text" | "password" | "number" | "date";
  value?: string;
  required?: boolean;
  autocomplete?: string;
  inputmode?: "numeric" | "text";
  pattern?: string;
  maxlength?: number;
  /** Set when this field is the one at fault. */
  error?: string;
  lang?: string;
}

/** A labelled input with its hint and error tied to it by aria-describedby. */
export function field(v: View, o: FieldOptions): SafeHtml {
  const describedBy = [o.hint ? `${o.id}-hint` : "", o.error ? `${o.id}-error` : ""].filter(Boolean).join(" ");
  return html`<div class="field">
<label for="${o.id}">${o.label}${o.required ? html`<span class="req">${v.t("必須", "required")}</span>` : ""}</label>
${o.hint ? html`<span class="hint" id="${o.id}-hint">${o.hint}</span>` : ""}
${o.error ? html`<span class="field-error" id="${o.id}-error">${o.error}</span>` : ""}
<input type="${o.type ?? "text"}" id="${o.id}" name="${o.name}"${o.value !== undefined && o.type !== "password" ? html` value="${o.value}"` : ""}${o.required ? html` required aria-required="true"` : ""}${o.autocomplete ? html` autocomplete="${o.autocomplete}"` : ""}${o.inputmode ? html` inputmode="${o.inputmode}"` : ""}${o.pattern ? html` pattern="${o.pattern}"` : ""}${o.maxlength ? html` maxlength="${o.maxlength}"` : ""}${describedBy ? html` aria-describedby="${describedBy}"` : ""}${o.error ? html` aria-invalid="true"` : ""}${o.lang ? html` lang="${o.lang}"` : ""}>
</div>`;
}

export function selectField(
  v: View,
  o: { id: string; name: string; label: string; hint?: string; options: { value: string; label: string }[]; value?: string; required?: boolean; error?: string },
): SafeHtml {
  const describedBy = [o.hint ? `${o.id}-hint` : "", o.error ? `${o.id}-error` : ""].filter(Boolean).join(" ");
  return html`<div class="field">
<label for="${o.id}">${o.label}${o.required ? html`<span class="req">${v.t("必須", "required")}</span>` : ""}</label>
${o.hint ? html`<span class="hint" id="${o.id}-hint">${o.hint}</span>` : ""}
${o.error ? html`<span class="field-error" id="${o.id}-error">${o.error}</span>` : ""}
<select id="${o.id}" name="${o.name}"${o.required ? html` required aria-required="true"` : ""}${describedBy ? html` aria-describedby="${describedBy}"` : ""}${o.error ? html` aria-invalid="true"` : ""}>
${o.options.map((opt) => html`<option value="${opt.value}"${opt.value === o.value ? html` selected` : ""}>${opt.label}</option>`)}
</select>
</div>`;
}

/** The message for the field at fault, when `problem` names this field. */
export function errorFor(v: View, problem: Problem | undefined, ...fields: string[]): string | undefined {
  if (!problem?.field || !fields.includes(problem.field)) return undefined;
  return localMessage(v.lang, problem.message);
}
