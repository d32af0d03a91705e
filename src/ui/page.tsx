/**
 * The page chunk: everything the "Migrate account" page and the composer offer need, loaded when one of them first
 * shows. Importing it adopts Compound's stylesheet and the module's own (as Element's own modules do) and keeps the
 * one `MigrationController`, which outlives the page so a run goes on while the user is elsewhere in Element.
 */
import React from "react";
import { TooltipProvider } from "@vector-im/compound-web";
import compound from "@vector-im/compound-web/dist/style.css" with { type: "css" };

import type { PageHost } from "./host.ts";
import { MigrationController } from "./MigrationController.ts";
import { MigrationPage } from "./MigrationPage.tsx";
import style from "./style.css" with { type: "css" };

import { ComposerOffer as ComposerOfferBare, type ComposerOfferProps } from "./ComposerOffer.tsx";

export { registerPageTranslations } from "../i18n/index.ts";

document.adoptedStyleSheets = [...document.adoptedStyleSheets, compound, style];

let current: { host: PageHost; controller: MigrationController } | null = null;

/** The one controller for `host`; a new host (another Element session) gets a new one, the old one let go. */
function controllerFor(host: PageHost): MigrationController {
    if (current?.host !== host) {
        current?.controller.dispose();
        current = { host, controller: new MigrationController(host) };
    }
    return current.controller;
}

export function PageRoot({ host, initialNewUserId }: { host: PageHost; initialNewUserId?: string }): React.JSX.Element {
    const controller = controllerFor(host);
    return (
        <TooltipProvider>
            <MigrationPage host={host} controller={controller} initialNewUserId={initialNewUserId} />
        </TooltipProvider>
    );
}

export function ComposerOffer(props: ComposerOfferProps): React.JSX.Element {
    return (
        <TooltipProvider>
            <ComposerOfferBare {...props} />
        </TooltipProvider>
    );
}
