import { html } from "../html.ts";
import { page, type View } from "../layout.ts";
import { problemNotice, type Problem } from "../forms.ts";

/** A whole page for a refusal that has no form to go back to (an expired form token, an unknown filing…). */
export function errorPage(v: View, problem: Problem, back: { href: string; ja: string; en: string } = { href: "/", ja: "トップページへ", en: "Go to the home page" }): string {
  const body = html`<h1>${v.t("手続きできませんでした", "This could not be done")}</h1>
${problemNotice(v, problem)}
<p><a href="${back.href}">${v.t(back.ja, back.en)}</a></p>`;
  return page(v, { title: v.t("手続きできませんでした", "This could not be done"), body, hasError: true });
}
