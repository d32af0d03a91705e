/**
 * The module's strings, registered with the host's i18n. Components receive a `Translate` function as a prop, never
 * the API itself.
 */
import type { I18nApi } from "@element-hq/element-web-module-api";

import translations from "./translations.json" with { type: "json" };

export type TranslationKey = keyof typeof translations;
export type Translate = (key: TranslationKey, vars?: Record<string, string | number>) => string;

export function registerTranslations(i18n: I18nApi): Translate {
    i18n.register(translations);
    return (key, vars) => i18n.translate(key, vars);
}

/** English strings, for the engine's CLI and for tests that render components without a host. */
export const englishTranslate: Translate = (key, vars) =>
    translations[key].en.replace(/%\((\w+)\)s/g, (whole, name: string) => String(vars?.[name] ?? whole));

export function hasTranslation(key: string): key is TranslationKey {
    return key in translations;
}
