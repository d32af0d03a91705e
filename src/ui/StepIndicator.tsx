/** Where the user is: sign in → review → run → report. */
import React from "react";

import type { Translate } from "../i18n/index.ts";

export const STEPS = ["sign-in", "review", "running", "report"] as const;
export type StepName = (typeof STEPS)[number];

export function StepIndicator({ t, current }: { t: Translate; current: StepName }): React.JSX.Element {
    const index = STEPS.indexOf(current);
    const labels = {
        "sign-in": t("steps|sign_in"),
        "review": t("steps|review"),
        "running": t("steps|run"),
        "report": t("steps|report"),
    };
    return (
        <ol className="mx_AccountMigration_steps" aria-label={t("steps|label")}>
            {STEPS.map((step, i) => (
                <li
                    key={step}
                    aria-current={i === index ? "step" : undefined}
                    data-state={i < index ? "done" : i === index ? "current" : "todo"}
                >
                    {t("steps|item", { number: i + 1, name: labels[step] })}
                </li>
            ))}
        </ol>
    );
}
