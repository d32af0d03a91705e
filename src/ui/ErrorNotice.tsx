/**
 * One way to show what went wrong: a translated sentence for the error's code, and the runtime's own (English,
 * technical) detail folded away for whoever needs it — as an alert, or under the field the error is about.
 */
import React from "react";
import { Alert, Form } from "@vector-im/compound-web";

import { type Translate, hasTranslation } from "../i18n/index.ts";
import type { RuntimeError } from "./runtime.ts";

/** The translated sentence for an error code (the generic one for codes without their own). */
export function errorText(t: Translate, error: RuntimeError): string {
    const key = `error|${error.code}`;
    return hasTranslation(key) ? t(key) : t("error|generic");
}

export function ErrorDetail({ t, error }: { t: Translate; error: RuntimeError }): React.JSX.Element {
    return (
        <details>
            <summary>{t("error|details")}</summary>
            <span className="mx_AccountMigration_secondary">{error.message}</span>
        </details>
    );
}

export function ErrorNotice({ t, error }: { t: Translate; error: RuntimeError }): React.JSX.Element {
    return (
        <div role="alert" data-testid="migration-error">
            <Alert type="critical" title={errorText(t, error)}>
                <ErrorDetail t={t} error={error} />
            </Alert>
        </div>
    );
}

/** Under the field it is about, inside that field's `Form.Field` (the control is described by it). */
export function FieldErrorMessage({ t, error }: { t: Translate; error: RuntimeError }): React.JSX.Element {
    return (
        <Form.ErrorMessage data-testid="migration-error">
            {errorText(t, error)} <ErrorDetail t={t} error={error} />
        </Form.ErrorMessage>
    );
}
