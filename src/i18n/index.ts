/**
 * The module's strings, registered with the host's i18n. Components receive a `Translate` function as a prop, never
 * the API itself. Two files: `entryTranslations.json` holds the few strings the entry shows at Element's start-up
 * (entry.ts registers them); `translations.json` holds the rest and comes with the page chunk, which registers it
 * when it loads — so Element's start-up does not carry every screen's strings in two languages.
 */
import type { I18nApi } from "@element-hq/element-web-module-api";

import entryTranslations from "./entryTranslations.json" with { type: "json" };
import pageTranslations from "./translations.json" with { type: "json" };

const translations = { ...entryTranslations, ...pageTranslations };

export type TranslationKey = keyof typeof translations;
export type Translate = (key: TranslationKey, vars?: Record<string, string | number>) => string;

/** Registers the strings of the page and the engine; called by the page chunk's loader before anything renders. */
export function registerPageTranslations(i18n: I18nApi): void {
    i18n.register(pageTranslations);
}

/** English strings, for the engine's CLI and for tests that render components without a host. */
export const englishTranslate: Translate = (key, vars) =>
    translations[key].en.replace(/%\((\w+)\)s/g, (whole, name: string) => String(vars?.[name] ?? whole));

export function hasTranslation(key: string): key is TranslationKey {
    return key in translations;
}
