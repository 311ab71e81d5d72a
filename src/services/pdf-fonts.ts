import { rgb } from "pdf-lib";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import fontkit from "@pdf-lib/fontkit";
import { ServiceError } from "./errors.ts";

/**
 * The Japanese font the PDFs embed (kiosk documents, counter notices): IPA Gothic, found where
 * Debian's fonts-ipafont-gothic (and older layouts of it) put it, loaded once per path.
 */
export const IPA_GOTHIC_PATHS: readonly string[] = [
  "/usr/share/fonts/opentype/ipafont-gothic/ipag.ttf",
  "/usr/share/fonts/truetype/ipafont-gothic/ipag.ttf",
  "/usr/share/fonts/truetype/fonts-japanese-gothic.ttf",
  "/usr/local/share/fonts/ipag.ttf",
];

export interface LoadedFont {
  bytes: Uint8Array;
  postscriptName: string;
  /** Whether the font draws this code point (IPA Gothic lacks about half of JIS X 0212, which the register accepts). */
  hasGlyph: (codePoint: number) => boolean;
}

/**
 * The characters of `text` the font cannot draw. pdf-lib draws them as the empty .notdef glyph
 * and pdftotext loses them, so a name would be printed without them and nobody would notice.
 */
export function missingGlyphs(font: LoadedFont, text: string): string[] {
  return [...new Set([...text].filter((c) => !/\s/u.test(c) && !font.hasGlyph(c.codePointAt(0)!)))];
}

/** GETA MARK: what Japanese printing puts where a character cannot be printed (外字). */
export const GETA = "〓";

const fontCache = new Map<string, Promise<LoadedFont>>();

/** The font file to use: `explicit` if given, else the first IPA Gothic that exists; a clear refusal otherwise. */
export function findFont(explicit?: string): string {
  const candidates = explicit ? [explicit] : IPA_GOTHIC_PATHS;
  const found = candidates.find((p) => existsSync(p));
  if (found) return found;
  throw new ServiceError(
    "service-unavailable",
    explicit
      ? `PDF用フォントが見つかりません: ${explicit} / the configured PDF font ${explicit} does not exist`
      : `PDF用の日本語フォント（IPAゴシック）が見つかりません。Debian/Ubuntu では fonts-ipafont-gothic パッケージを入れてください（apt-get install fonts-ipafont-gothic）/ ` +
          `the Japanese font for PDFs (IPA Gothic) is missing: install the Debian package fonts-ipafont-gothic (looked in ${IPA_GOTHIC_PATHS.join(", ")})`,
    "font",
    { reason: "font-missing" },
  );
}

/** The font's bytes and PostScript name, read once per path. */
export function loadFont(path: string): Promise<LoadedFont> {
  let font = fontCache.get(path);
  if (!font) {
    font = readFile(path).then((b) => {
      const bytes = new Uint8Array(b);
      const parsed = fontkit.create(bytes);
      return {
        bytes,
        postscriptName: (parsed.postscriptName ?? "").replace(/[^A-Za-z0-9-]/g, "") || "Font",
        hasGlyph: (codePoint: number) => parsed.hasGlyphForCodePoint(codePoint),
      };
    });
    font.catch(() => fontCache.delete(path));
    fontCache.set(path, font);
  }
  return font;
}

/**
 * The subset's name: six capital letters, "+", the font's name (ISO 32000 9.6.4). pdf-lib would
 * otherwise add a random suffix; deriving the tag from a key (an issue number, a card id) keeps
 * the output a function of the input.
 */
export function subsetName(postscriptName: string, key: string): string {
  const digest = createHash("sha256").update(key).digest();
  const tag = [...digest.subarray(0, 6)].map((b) => String.fromCharCode(65 + (b % 26))).join("");
  return `${tag}+${postscriptName}`;
}

/** The page and palette every printed document shares (kiosk documents, counter notices). */
export const A4 = { width: 595.28, height: 841.89 } as const;
export const MARGIN = 56;
export const INK = rgb(0.1, 0.1, 0.12);
export const GREY = rgb(0.42, 0.42, 0.45);
export const RULE = rgb(0.6, 0.6, 0.63);
export const ACCENT = rgb(0.1, 0.32, 0.55);
export const WARN = rgb(0.62, 0.12, 0.1);
