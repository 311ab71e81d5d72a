/**
 * A request body refused by a route's JSON schema, as "field: 日本語 / English". Ajv words its
 * problems in English only; the Japanese is written here from the keyword and its limit, so an
 * integrator reading the answer in either language learns the same thing.
 */
export interface SchemaProblem {
  keyword?: string;
  message?: string;
  params?: Record<string, unknown>;
}

export function schemaProblemMessage(field: string, problem: SchemaProblem): string {
  const english = problem.message ?? "is invalid";
  const japanese = japaneseOf(problem);
  return `${field || "body"}: ${japanese ? `${japanese} / ` : ""}${english}`;
}

function japaneseOf({ keyword, params = {} }: SchemaProblem): string | undefined {
  const limit = typeof params.limit === "number" ? params.limit : undefined;
  switch (keyword) {
    case "required":
      return "必須の項目がありません";
    case "additionalProperties":
      return "この項目は受け付けません";
    case "type":
      return `値の型が違います（${TYPE_NAMES[String(params.type)] ?? String(params.type)}で指定してください）`;
    case "pattern":
    case "format":
      return "値の形式が違います";
    case "enum":
    case "const":
      return "指定できる値ではありません";
    case "maxLength":
      return limit === undefined ? undefined : `${limit}文字以内で指定してください`;
    case "minLength":
      return limit === undefined ? undefined : limit === 1 ? "空にはできません" : `${limit}文字以上で指定してください`;
    case "maximum":
      return limit === undefined ? undefined : `${limit}以下で指定してください`;
    case "minimum":
      return limit === undefined ? undefined : `${limit}以上で指定してください`;
    case "maxItems":
      return limit === undefined ? undefined : `${limit}件以内で指定してください`;
    case "minItems":
      return limit === undefined ? undefined : `${limit}件以上で指定してください`;
    default:
      return undefined;
  }
}

const TYPE_NAMES: Readonly<Record<string, string>> = {
  string: "文字列",
  integer: "整数",
  number: "数値",
  boolean: "true か false",
  array: "配列",
  object: "オブジェクト",
};
