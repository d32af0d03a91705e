/**
 * A stand-in for Element's module `Api` (as element-web's own module tests use a mock Api): only the members the
 * loader and this module touch, recording what the module registers. `hooks` leaves out what an older release of
 * the module API does not have.
 */
import type { Api } from "@element-hq/element-web-module-api";

export interface RecordedRegistrations {
    renderers: Map<string, () => unknown>;
    spaceItems: Map<string, { label: string; onSelected(): void }>;
    previews: Array<(text: string, roomId: string) => boolean>;
    translations: Record<string, Record<string, string>>;
}

export interface ApiHooks {
    page: boolean;
    spacePanel: boolean;
    composerPreview: boolean;
}

const ALL_HOOKS: ApiHooks = { page: true, spacePanel: true, composerPreview: true };

/** A second registration under the same key fails the test (a map would hide it). */
function setOnce<V>(map: Map<string, V>, key: string, value: V): void {
    if (map.has(key)) throw new Error(`${key} registered twice`);
    map.set(key, value);
}

export function recordingApi(
    config: Record<string, unknown> = {},
    hooks: ApiHooks = ALL_HOOKS,
): { api: Api; recorded: RecordedRegistrations } {
    const recorded: RecordedRegistrations = {
        renderers: new Map(),
        spaceItems: new Map(),
        previews: [],
        translations: {},
    };
    const api = {
        config: { get: (key?: string) => (key ? config[key] : config) },
        i18n: {
            language: "en",
            register: (t: Record<string, Record<string, string>>) => Object.assign(recorded.translations, t),
            translate: (key: string) => recorded.translations[key]?.en ?? key,
        },
        navigation: hooks.page
            ? { registerLocationRenderer: (p: string, r: () => unknown) => setOnce(recorded.renderers, p, r) }
            : {},
        extras: hooks.spacePanel
            ? {
                  setSpacePanelItem: (k: string, item: { label: string; onSelected(): void }) =>
                      setOnce(recorded.spaceItems, k, item),
              }
            : {},
        customComponents: hooks.composerPreview
            ? {
                  registerComposerPreview: (filter: (t: string, r: string) => boolean) =>
                      recorded.previews.push(filter),
              }
            : {},
    } as unknown as Api;
    return { api, recorded };
}
