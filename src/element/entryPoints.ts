/**
 * Everything the module adds to Element's UI: the "Migrate account" page (a location renderer at #/migrate-account),
 * its space-panel entry (a progress ring while a migration runs), and the composer preview for `/migrate @new:server`.
 * This file is in the entry Element loads at start-up: the page, Compound and the engine load later, as chunks.
 */
import React from "react";
import type { Api } from "@element-hq/element-web-module-api";
import ForwardIcon from "@vector-im/compound-design-tokens/assets/web/icons/forward";

import type { ModuleConfig } from "../config.ts";
import { JOURNAL_EVENT_TYPE } from "../engine/journal.ts";
import type { Translate } from "../i18n/index.ts";
import type { EntryProgress, PageHost } from "../ui/host.ts";
import { getLoggedInClient } from "./loggedInClient.ts";
import { parseMigrateCommand } from "./migrateCommand.ts";
import { openSignInWindow } from "./signInWindow.ts";

declare const __webpack_public_path__: string;

/** The sign-in popups' landing page, next to the module's entry (webpack knows where the entry was loaded from). */
function callbackUrl(): string {
    return new URL("callback.html", __webpack_public_path__).href;
}

export const PAGE_PATH = "migrate-account";
const SPACE_PANEL_KEY = "io.github.matrix_account_migration.entry";

function openPage(): void {
    window.location.hash = `#/${PAGE_PATH}`;
}

/** Offers text as a file download (the report, the key file, a recovery key). */
function downloadFile(name: string, content: string | Blob, type: string): void {
    const url = URL.createObjectURL(typeof content === "string" ? new Blob([content], { type }) : content);
    const a = document.createElement("a");
    a.href = url;
    a.download = name;
    a.click();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

/** A ring for the space-panel entry: the share of rooms done (dashed while paused). Sized by the host's icon box. */
function ProgressRing({ progress }: { progress: EntryProgress }): React.JSX.Element {
    const share = progress.total ? progress.done / progress.total : 0;
    const c = 2 * Math.PI * 9;
    return React.createElement(
        "svg",
        { "viewBox": "0 0 24 24", "width": "1em", "height": "1em", "aria-hidden": true },
        React.createElement("circle", {
            cx: 12,
            cy: 12,
            r: 9,
            fill: "none",
            stroke: "currentColor",
            strokeOpacity: 0.3,
            strokeWidth: 3,
        }),
        React.createElement("circle", {
            cx: 12,
            cy: 12,
            r: 9,
            fill: "none",
            stroke: "currentColor",
            strokeWidth: 3,
            strokeDasharray: progress.paused ? "2 3" : `${share * c} ${c}`,
            transform: "rotate(-90 12 12)",
        }),
    );
}

export function registerEntryPoints(api: Api, config: ModuleConfig, t: Translate): void {
    // The page chunk (Compound, the screens, the controller, their strings), fetched once when the page or the offer
    // first shows; its strings are registered before anything of it renders.
    let pageChunk: Promise<typeof import("../ui/page.tsx")> | undefined;
    const loadPageChunk = () =>
        (pageChunk ??= import(/* webpackChunkName: "migration-page" */ "../ui/page.tsx").then((m) => {
            m.registerPageTranslations(api.i18n);
            return m;
        }));
    const LazyPage = React.lazy(() => loadPageChunk().then((m) => ({ default: m.PageRoot })));
    const LazyComposerOffer = React.lazy(() => loadPageChunk().then((m) => ({ default: m.ComposerOffer })));

    const spacePanel = config.space_panel_entry && typeof api.extras?.setSpacePanelItem === "function";
    const showEntry = (progress: EntryProgress | null): void => {
        if (!spacePanel) return;
        const status =
            progress &&
            (progress.paused
                ? t("entry|paused", { done: progress.done, total: progress.total })
                : t("entry|progress", { done: progress.done, total: progress.total }));
        api.extras.setSpacePanelItem(SPACE_PANEL_KEY, {
            label: status ? `${t("entry|label")} · ${status}` : t("entry|label"),
            tooltip: status ?? t("entry|tooltip"),
            icon: progress
                ? React.createElement(ProgressRing, { progress })
                : React.createElement(ForwardIcon, { "aria-hidden": true }),
            onSelected: openPage,
        });
    };

    const host: PageHost = {
        t,
        // The module API's profile where the host has it; Element's client otherwise (older hosts).
        oldUserId: () => api.profile?.value?.userId ?? getLoggedInClient()?.getUserId() ?? null,
        oldDeviceId: () => getLoggedInClient()?.getDeviceId() ?? null,
        defaultOptions: { leaveOldRooms: config.leave_old_rooms_default, movedNotice: config.moved_notice_default },
        async loadRuntime() {
            const client = getLoggedInClient();
            if (!client) throw Object.assign(new Error("Element has no logged-in client"), { code: "no-client" });
            // The engine, a second matrix-js-sdk and the crypto WASM load here, as separate chunks.
            const { createElementRuntime } = await import(
                /* webpackChunkName: "migration-runtime" */ "./elementRuntime.ts"
            );
            return createElementRuntime(client, {
                allowedServers: config.allowed_target_servers,
                allowedHomeservers: config.allowed_target_homeservers,
                callbackUrl: callbackUrl(),
            });
        },
        readJournal: () => {
            // The module API's account data where the host has it; Element's synced client otherwise.
            try {
                if (typeof api.client?.accountData?.get === "function")
                    return api.client.accountData.get(JOURNAL_EVENT_TYPE).value;
            } catch {
                // Older hosts: fall through.
            }
            return getLoggedInClient()
                ?.getAccountData(JOURNAL_EVENT_TYPE as never)
                ?.getContent();
        },
        watchJournal: (onChange) => {
            if (typeof api.client?.accountData?.get === "function") {
                const watchable = api.client.accountData.get(JOURNAL_EVENT_TYPE);
                const listener = () => onChange();
                watchable.watch(listener);
                return () => watchable.unwatch(listener);
            }
            const client = getLoggedInClient();
            const listener = (event: { getType(): string }) => event.getType() === JOURNAL_EVENT_TYPE && onChange();
            client?.on("accountData" as never, listener as never);
            return () => client?.off("accountData" as never, listener as never);
        },
        renderRoomAvatar:
            typeof api.builtins?.renderRoomAvatar === "function"
                ? (roomId) => api.builtins.renderRoomAvatar(roomId, "32px")
                : undefined,
        displayName: (roomId, userId) =>
            getLoggedInClient()?.getRoom(roomId)?.getMember(userId)?.name ??
            getLoggedInClient()?.getUser(userId)?.displayName,
        showProgress: showEntry,
        openSignInWindow,
        saveFile: downloadFile,
        copyText: (text) => navigator.clipboard.writeText(text),
    };

    const loading = React.createElement(
        "div",
        { role: "status", style: { padding: "var(--cpd-space-6x)" } },
        t("page|loading"),
    );
    // The new account asked for in the composer, handed to the page once (Element drops a screen's query parameters).
    let requestedNewUserId: string | undefined;
    api.navigation.registerLocationRenderer(PAGE_PATH, () =>
        React.createElement(
            React.Suspense,
            { fallback: loading },
            React.createElement(LazyPage, { host, initialNewUserId: requestedNewUserId }),
        ),
    );

    // Most UI hooks are alpha: feature-detect them so an older or trimmed host still gets the page.
    showEntry(null);

    if (config.composer_command && typeof api.customComponents?.registerComposerPreview === "function") {
        api.customComponents.registerComposerPreview(
            (text) => parseMigrateCommand(text) !== null,
            (props) => {
                const command = parseMigrateCommand(props.text);
                if (!command) return React.createElement(React.Fragment);
                return React.createElement(
                    React.Suspense,
                    { fallback: null },
                    React.createElement(LazyComposerOffer, {
                        t,
                        command,
                        onStart: (newUserId: string) => {
                            requestedNewUserId = newUserId;
                            openPage();
                        },
                    }),
                );
            },
        );
    }
}
