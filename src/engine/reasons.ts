/**
 * What the engine tells a person — why a room needs action, why the old account stays in it, what happened to its
 * keys — as a translation key and its values. The Element page words it in the user's language; the CLI and the
 * JSON report use the English text.
 */
import { type TranslationKey, englishTranslate } from "../i18n/index.ts";

type ReasonSuffix<K> = K extends `reason|${infer Rest}` ? Rest : never;
export type ReasonCode = ReasonSuffix<TranslationKey>;

export interface Reason {
    key: `reason|${ReasonCode}` | `blocker|${string}`;
    params: Record<string, string | number>;
}

export function reason(code: ReasonCode, params: Record<string, string | number> = {}): Reason {
    return { key: `reason|${code}`, params };
}

export function inEnglish(reasons: Reason[]): string {
    return reasons.map((r) => englishTranslate(r.key as TranslationKey, r.params)).join(" ");
}
