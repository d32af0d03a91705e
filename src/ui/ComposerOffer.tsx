/** Shown above Element's composer while it holds `/migrate …`: offers to open the migration page. */
import React from "react";
import { Button, Text } from "@vector-im/compound-web";

import type { MigrateCommand } from "../element/migrateCommand.ts";
import type { Translate } from "../i18n/index.ts";

export interface ComposerOfferProps {
    t: Translate;
    command: MigrateCommand;
    onStart(newUserId: string): void;
}

export function ComposerOffer({ t, command, onStart }: ComposerOfferProps): React.JSX.Element {
    return (
        <div className="mx_AccountMigration_stack" role="status" aria-label={t("composer|label")}>
            {command.kind === "ok" ? (
                <>
                    <div className="mx_AccountMigration_row">
                        <Text weight="semibold">{t("composer|offer", { newUser: command.newUserId })}</Text>
                        <Button kind="primary" size="md" onClick={() => onStart(command.newUserId)}>
                            {t("composer|start")}
                        </Button>
                    </div>
                    <Text size="sm" className="mx_AccountMigration_secondary">
                        {t("composer|hint")}
                    </Text>
                </>
            ) : (
                <Text size="sm">{t(`composer|${command.problem}`, { input: command.input })}</Text>
            )}
        </div>
    );
}
