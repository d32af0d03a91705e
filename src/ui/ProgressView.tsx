/** Step 3: progress, with the ETA and — when the new server's invite limit is what takes the time — why. */
import React from "react";

import type { ProgressEvent } from "../engine/context.ts";
import type { WaitNotice } from "../engine/scheduler.ts";
import type { Translate, TranslationKey } from "../i18n/index.ts";

export interface ProgressViewProps {
    t: Translate;
    newServer: string;
    progress?: ProgressEvent;
    lastWait?: WaitNotice;
    formatDuration(ms: number): string;
}

export function ProgressView({ t, newServer, progress, lastWait, formatDuration }: ProgressViewProps): React.JSX.Element {
    const done = progress?.roomsDone ?? 0;
    const total = progress?.roomsTotal ?? 0;
    return (
        <section className="mx_AccountMigration_progress" data-testid="migration-progress" aria-busy="true">
            <h2>{t("progress|heading")}</h2>
            <progress max={Math.max(total, 1)} value={done} />
            <p>
                {t("progress|rooms", { done, total })}
                {progress && progress.etaMs > 0 && <> · {t("progress|eta", { time: formatDuration(progress.etaMs) })}</>}
            </p>
            {progress && <p role="status">{t(`step|${progress.step}` as TranslationKey, { room: progress.roomName ?? "" })}</p>}
            {progress?.etaExplanation && <p className="mx_AccountMigration_note">{t("progress|invite_limited", { server: newServer })}</p>}
            {lastWait && <p className="mx_AccountMigration_note">{t("progress|waiting", { time: formatDuration(lastWait.ms) })}</p>}
        </section>
    );
}
