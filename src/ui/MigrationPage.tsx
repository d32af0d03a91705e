/** The "Migrate account" page: Element renders it in its main area at #/migrate-account. */
import React from "react";

import type { Translate } from "../i18n/index.ts";

export interface MigrationPageProps {
    t: Translate;
    /** The logged-in (old) account, or null while Element has no client yet. */
    oldUserId: string | null;
    initialNewUserId?: string;
    allowedServers: string[];
}

export function MigrationPage({ t, oldUserId, initialNewUserId }: MigrationPageProps): React.JSX.Element {
    return (
        <main className="mx_AccountMigration_page" data-testid="migration-page">
            <h1>{t("page|title")}</h1>
            {oldUserId === null ? (
                <p role="alert">{t("page|no_client")}</p>
            ) : (
                <>
                    <p>{t("page|intro", { oldUser: oldUserId })}</p>
                    <p>{t("page|safety")}</p>
                    {initialNewUserId && <p data-testid="migration-requested-target">{initialNewUserId}</p>}
                </>
            )}
        </main>
    );
}
