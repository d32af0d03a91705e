/**
 * Step 3: the run, live. A progress bar with the rooms done, the ETA (and, when the new server's invite limit is what
 * takes the time, why), pause and resume. The run goes on when the user leaves this page.
 */
import React from "react";
import { Alert, Button, Heading, InlineSpinner, Progress, Text } from "@vector-im/compound-web";
import PauseIcon from "@vector-im/compound-design-tokens/assets/web/icons/pause";
import PlayIcon from "@vector-im/compound-design-tokens/assets/web/icons/play";

import type { ProgressEvent } from "../engine/context.ts";
import { formatDuration } from "../engine/duration.ts";
import type { WaitNotice } from "../engine/scheduler.ts";
import type { Translate, TranslationKey } from "../i18n/index.ts";

export interface ProgressViewProps {
    t: Translate;
    newServer: string;
    dryRun: boolean;
    /** Rooms chosen in the plan: the total before the first progress event arrives. */
    plannedRooms: number;
    progress?: ProgressEvent;
    lastWait?: WaitNotice;
    paused: boolean;
    onPause(): void;
    onResume(): void;
}

/** Below this the ETA is noise ("0s"); the invite-limit explanation only matters for a long wait. */
const SHOW_ETA_FROM_MS = 5_000;
const EXPLAIN_INVITE_LIMIT_FROM_MS = 60_000;

export function ProgressView({
    t,
    newServer,
    dryRun,
    plannedRooms,
    progress,
    lastWait,
    paused,
    onPause,
    onResume,
}: ProgressViewProps): React.JSX.Element {
    const done = progress?.roomsDone ?? 0;
    const total = progress?.roomsTotal ?? plannedRooms;
    const eta = progress?.etaMs ?? 0;
    return (
        <section
            className="mx_AccountMigration_stack"
            aria-labelledby="mx_AccountMigration_progressHeading"
            aria-busy={!paused}
        >
            <Heading as="h2" size="md" weight="semibold" id="mx_AccountMigration_progressHeading">
                {dryRun ? t("progress|dry_heading") : t("progress|heading")}
            </Heading>
            <Progress
                size="lg"
                value={done}
                max={Math.max(total, 1)}
                aria-label={t("progress|rooms", { done, total })}
                getValueLabel={() => t("progress|rooms", { done, total })}
            />
            <div className="mx_AccountMigration_row">
                {!paused && <InlineSpinner />}
                <Text weight="semibold">{t("progress|rooms", { done, total })}</Text>
                <Text className="mx_AccountMigration_secondary">
                    {paused
                        ? t("progress|paused")
                        : eta >= SHOW_ETA_FROM_MS
                          ? t("progress|eta", { time: formatDuration(eta) })
                          : t("progress|almost")}
                </Text>
            </div>
            <Text role="status" size="sm">
                {progress
                    ? t(`step|${progress.step}` as TranslationKey, { room: progress.roomName ?? "" })
                    : t("progress|preparing")}
            </Text>
            {!paused && progress?.etaExplanation && eta >= EXPLAIN_INVITE_LIMIT_FROM_MS && (
                <Alert type="info" title={t("progress|invite_limited_title")}>
                    {t("progress|invite_limited", { server: newServer })}
                </Alert>
            )}
            {!paused && lastWait && lastWait.reason !== "invite-refused" && (
                <Text size="sm" className="mx_AccountMigration_secondary">
                    {t(`progress|waiting_${lastWait.reason}` as TranslationKey, { time: formatDuration(lastWait.ms) })}
                </Text>
            )}
            <Text size="sm" className="mx_AccountMigration_secondary">
                {t("progress|background")}
            </Text>
            <div className="mx_AccountMigration_actions">
                {paused ? (
                    <Button kind="primary" Icon={PlayIcon} onClick={onResume}>
                        {t("progress|resume")}
                    </Button>
                ) : (
                    <Button kind="secondary" Icon={PauseIcon} onClick={onPause}>
                        {t("progress|pause")}
                    </Button>
                )}
            </div>
        </section>
    );
}
