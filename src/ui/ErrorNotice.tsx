/** One way to show what went wrong: a translated headline when the code has one, and the detail below it. */
import React from "react";

import { type Translate, hasTranslation } from "../i18n/index.ts";
import type { RuntimeError } from "./runtime.ts";

export function ErrorNotice({ t, error }: { t: Translate; error: RuntimeError }): React.JSX.Element {
    const key = `error|${error.code}`;
    return (
        <div role="alert" className="mx_AccountMigration_error" data-testid="migration-error">
            {hasTranslation(key) ? (
                <>
                    <p>{t(key)}</p>
                    <p className="mx_AccountMigration_detail">{error.message}</p>
                </>
            ) : (
                <p>{t("error|generic", { message: error.message })}</p>
            )}
        </div>
    );
}
