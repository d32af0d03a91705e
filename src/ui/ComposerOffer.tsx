/** Shown above Element's composer while it holds `/migrate …`: offers to open the migration page. */
import React from "react";

import type { MigrateCommand } from "../element/migrateCommand.ts";
import type { Translate } from "../i18n/index.ts";

export interface ComposerOfferProps {
    t: Translate;
    command: MigrateCommand;
    onStart(newUserId: string): void;
}

export function ComposerOffer({ t, command, onStart }: ComposerOfferProps): React.JSX.Element {
    return (
        <div className="mx_AccountMigration_composerOffer" role="status" data-testid="migration-composer-offer">
            {command.kind === "ok" ? (
                <>
                    <span>{t("composer|offer", { newUser: command.newUserId })}</span>{" "}
                    <button type="button" onClick={() => onStart(command.newUserId)}>
                        {t("composer|start")}
                    </button>
                    <div className="mx_AccountMigration_hint">{t("composer|hint")}</div>
                </>
            ) : (
                <span className="mx_AccountMigration_error">{t("composer|invalid", { problem: command.problem })}</span>
            )}
        </div>
    );
}
