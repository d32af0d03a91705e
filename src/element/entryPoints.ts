/**
 * Everything the module adds to Element's UI: the "Migrate account" page (a location renderer at #/migrate-account),
 * its space-panel entry, and the composer preview for `/migrate @new:server`.
 */
import React from "react";
import type { Api } from "@element-hq/element-web-module-api";

import type { ModuleConfig } from "../config.ts";
import type { Translate } from "../i18n/index.ts";
import { ComposerOffer } from "../ui/ComposerOffer.tsx";
import { MigrationPage } from "../ui/MigrationPage.tsx";
import { getLoggedInClient } from "./loggedInClient.ts";
import { parseMigrateCommand } from "./migrateCommand.ts";

export const PAGE_PATH = "migrate-account";
const SPACE_PANEL_KEY = "io.github.matrix_account_migration.entry";

/** The new account asked for in the composer, carried to the page (Element drops a screen's query parameters). */
let requestedNewUserId: string | undefined;

function openPage(): void {
    window.location.hash = `#/${PAGE_PATH}`;
}

/** Offers text as a file download (the report, the key file). */
function downloadFile(name: string, text: string, type: string): void {
    const url = URL.createObjectURL(new Blob([text], { type }));
    const a = document.createElement("a");
    a.href = url;
    a.download = name;
    a.click();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

export function registerEntryPoints(api: Api, config: ModuleConfig, t: Translate): void {
    const loadRuntime = async () => {
        const client = getLoggedInClient();
        if (!client) throw Object.assign(new Error(t("page|no_client")), { code: "no-client" });
        // The engine, a second matrix-js-sdk and the crypto WASM load here, as separate chunks, not with Element.
        const { createElementRuntime } = await import(/* webpackChunkName: "migration-runtime" */ "./elementRuntime.ts");
        return createElementRuntime(client, config.allowed_target_servers);
    };
    api.navigation.registerLocationRenderer(PAGE_PATH, () =>
        React.createElement(MigrationPage, {
            t,
            oldUserId: getLoggedInClient()?.getUserId() ?? null,
            initialNewUserId: requestedNewUserId,
            defaultOptions: { leaveOldRooms: config.leave_old_rooms_default, movedNotice: config.moved_notice_default },
            loadRuntime,
            saveFile: downloadFile,
        }),
    );

    // Most UI hooks are alpha: feature-detect them so an older or trimmed host still gets the page.
    if (config.space_panel_entry && typeof api.extras?.setSpacePanelItem === "function") {
        api.extras.setSpacePanelItem(SPACE_PANEL_KEY, {
            label: t("entry|label"),
            tooltip: t("entry|tooltip"),
            icon: React.createElement("span", { "aria-hidden": true, "className": "mx_AccountMigration_icon" }, "⇄"),
            onSelected: openPage,
        });
    }

    if (config.composer_command && typeof api.customComponents?.registerComposerPreview === "function") {
        api.customComponents.registerComposerPreview(
            (text) => parseMigrateCommand(text) !== null,
            (props) =>
                React.createElement(ComposerOffer, {
                    t,
                    command: parseMigrateCommand(props.text) ?? { kind: "invalid", problem: "" },
                    onStart: (newUserId: string) => {
                        requestedNewUserId = newUserId;
                        openPage();
                    },
                }),
        );
    }
}
