/**
 * What the entry needs of i18n at Element's start-up: its own few strings (the space-panel entry, the page's loading
 * text) and the `Translate` function. It must not import index.ts at run time: that carries every string.
 */
import type { I18nApi } from "@element-hq/element-web-module-api";

import entryTranslations from "./entryTranslations.json" with { type: "json" };
import type { Translate } from "./index.ts";

export function registerEntryTranslations(i18n: I18nApi): Translate {
    i18n.register(entryTranslations);
    return (key, vars) => i18n.translate(key, vars);
}
