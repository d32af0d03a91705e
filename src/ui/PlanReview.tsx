/**
 * Step 2: the plan, before anything is written. Rooms grouped by what will happen to them (each group with a count,
 * select-all, and the name filter), invitations the old account never accepted, the options, the keys — and the one
 * primary action, kept in reach at the bottom of the screen.
 */
import React, { useCallback, useLayoutEffect, useMemo, useRef, useState } from "react";
import { Alert, Button, CheckboxInput, Form, Heading, Text } from "@vector-im/compound-web";
import DownloadIcon from "@vector-im/compound-design-tokens/assets/web/icons/download";

import type { MigrationPlan, RoomPlan } from "../engine/plan.ts";
import { invitesNeeded, isMovable } from "../engine/plan.ts";
import { type Translate, hasTranslation } from "../i18n/index.ts";
import type { HistoryExportState, UnfinishedRun } from "./MigrationController.ts";
import { HistoryExportPanel } from "./HistoryExportPanel.tsx";
import {
    PLAN_GROUPS,
    type PlanGroup,
    blockerAdminMessage,
    blockerReason,
    isCreatorNote,
    isHiddenHistory,
    planGroupOf,
    planStatus,
    roomDisplayName,
} from "./planGroups.ts";
import { ErrorNotice } from "./ErrorNotice.tsx";
import { RoomGroup, type RoomRowModel } from "./RoomGroup.tsx";
import type { RuntimeError } from "./runtime.ts";

export interface PlanReviewProps {
    t: Translate;
    plan: MigrationPlan;
    onChange(plan: MigrationPlan): void;
    /** The keys section, rendered by the caller. */
    keys: React.ReactNode;
    busy: boolean;
    error?: RuntimeError;
    /** False while something must happen first (e.g. the new recovery key is not saved yet). */
    canStart: boolean;
    continuing?: UnfinishedRun;
    renderAvatar(roomId: string, name: string): React.ReactNode;
    displayName(roomId: string, userId: string): string | undefined;
    copyText(text: string): Promise<void>;
    onRun(dryRun: boolean): void;
    /** Saves what stays behind: of these rooms, or of every chosen one. */
    onExportHistory?(roomIds?: string[]): void;
    historyExport?: HistoryExportState;
}

const BADGES: Record<PlanGroup, "default" | "grey" | "blue" | "green" | "red"> = {
    move: "blue",
    help: "red",
    cannot: "grey",
    already: "green",
};

function CopyButton({
    t,
    text,
    copyText,
}: {
    t: Translate;
    text: string;
    copyText(text: string): Promise<void>;
}): React.JSX.Element {
    const [copied, setCopied] = useState(false);
    return (
        <Button kind="secondary" size="md" onClick={() => void copyText(text).then(() => setCopied(true))}>
            {copied ? t("review|copied") : t("review|copy_message")}
        </Button>
    );
}

export function PlanReview({
    t,
    plan,
    onChange,
    keys,
    busy,
    error,
    canStart,
    continuing,
    renderAvatar,
    displayName,
    copyText,
    onRun,
    onExportHistory,
    historyExport,
}: PlanReviewProps): React.JSX.Element {
    const [filter, setFilter] = useState("");
    // The latest plan for callbacks that rows keep (rows are memoised and must not re-render for other rooms).
    const latest = useRef({ plan, onChange, onExportHistory, busy });
    useLayoutEffect(() => {
        latest.current = { plan, onChange, onExportHistory, busy };
    });
    const exportRoom = useCallback((roomId: string) => {
        if (!latest.current.busy) latest.current.onExportHistory?.([roomId]);
    }, []);
    const setRooms = useCallback((selectedFor: (room: RoomPlan) => boolean | undefined) => {
        const p = latest.current.plan;
        latest.current.onChange({
            ...p,
            rooms: p.rooms.map((r) => {
                const selected = selectedFor(r);
                return selected === undefined || selected === r.selected ? r : { ...r, selected };
            }),
        });
    }, []);
    const toggle = useCallback(
        (roomId: string, selected: boolean) => setRooms((r) => (r.roomId === roomId ? selected : undefined)),
        [setRooms],
    );

    // A room's named loss, accepted or not: the room object is renewed so its row (memoised by it) shows the change.
    const acceptLosses = useCallback((roomId: string, accepted: boolean) => {
        const p = latest.current.plan;
        const others = p.options.acceptMissingKeys.filter((id) => id !== roomId);
        latest.current.onChange({
            ...p,
            options: { ...p.options, acceptMissingKeys: accepted ? [...others, roomId] : others },
            rooms: p.rooms.map((r) => (r.roomId === roomId ? { ...r } : r)),
        });
    }, []);

    // One row model per room object: unchanged rooms keep theirs, so their rows do not re-render.
    const [models] = useState(() => new WeakMap<RoomPlan, RoomRowModel>());
    const rowOf = (room: RoomPlan): RoomRowModel => {
        let model = models.get(room);
        if (!model) {
            const selectable = isMovable(room);
            // Accepting renews the room object, so this value is never stale for its model.
            const accepted = plan.options.acceptMissingKeys.includes(room.roomId);
            model = {
                roomId: room.roomId,
                name: roomDisplayName(room, displayName),
                status: planStatus(t, room),
                selected: room.selected,
                selectable,
                details: () => (
                    <RoomPlanDetails
                        t={t}
                        room={room}
                        copyText={copyText}
                        lossesAccepted={accepted}
                        onAcceptLosses={acceptLosses}
                        onExport={onExportHistory ? exportRoom : undefined}
                    />
                ),
            };
            models.set(room, model);
        }
        return model;
    };

    const grouped = useMemo(() => {
        const groups = Object.fromEntries(PLAN_GROUPS.map((g) => [g, [] as RoomPlan[]])) as Record<
            PlanGroup,
            RoomPlan[]
        >;
        for (const room of plan.rooms) groups[planGroupOf(room)].push(room);
        return groups;
    }, [plan.rooms]);
    const needle = filter.trim().toLocaleLowerCase();

    const selected = plan.rooms.filter((r) => r.selected).length;
    const setOption = (name: keyof MigrationPlan["options"], value: boolean) =>
        onChange({ ...plan, options: { ...plan.options, [name]: value } });
    const titles: Record<PlanGroup, string> = {
        move: t("review|group_move"),
        help: t("review|group_help"),
        cannot: t("review|group_cannot"),
        already: t("review|group_already"),
    };

    return (
        <section className="mx_AccountMigration_stack" aria-labelledby="mx_AccountMigration_reviewHeading">
            <Heading as="h2" size="md" weight="semibold" id="mx_AccountMigration_reviewHeading">
                {t("review|heading")}
            </Heading>
            {continuing && (
                <Alert type="info" title={t("review|continuing_title")}>
                    {t("review|continuing", { done: continuing.roomsDone, total: continuing.choices.rooms.length })}
                </Alert>
            )}
            <Text>{t("review|summary", { total: plan.rooms.length, selected, invites: invitesNeeded(plan) })}</Text>

            <Form.Root onSubmit={(e) => e.preventDefault()} role="search">
                <Form.Field name="roomFilter">
                    <Form.Label>{t("review|filter")}</Form.Label>
                    <Form.TextControl
                        type="search"
                        value={filter}
                        onChange={(e: React.ChangeEvent<HTMLInputElement>) => setFilter(e.currentTarget.value)}
                    />
                </Form.Field>
            </Form.Root>

            {PLAN_GROUPS.filter((g) => grouped[g].length > 0).map((g) => {
                const rooms = grouped[g];
                const rows = rooms
                    .map(rowOf)
                    .filter(
                        (r) =>
                            !needle ||
                            r.name.toLocaleLowerCase().includes(needle) ||
                            r.roomId.toLocaleLowerCase().includes(needle),
                    );
                const selectable = rooms.filter((r) => isMovable(r));
                const creatorRooms = rooms.filter((r) => r.blockers.some(isCreatorNote)).length;
                const hiddenRooms = rooms.filter((r) => r.blockers.some(isHiddenHistory)).length;
                return (
                    <RoomGroup
                        key={g}
                        t={t}
                        title={titles[g]}
                        rows={rows}
                        total={rooms.length}
                        badge={BADGES[g]}
                        renderAvatar={renderAvatar}
                        onToggle={toggle}
                        onSelectAll={
                            selectable.length
                                ? (on) => setRooms((r) => (planGroupOf(r) === g && isMovable(r) ? on : undefined))
                                : undefined
                        }
                        allSelected={selectable.length > 0 && selectable.every((r) => r.selected)}
                        note={
                            creatorRooms > 0 || hiddenRooms > 0 ? (
                                <>
                                    {creatorRooms > 0 && (
                                        <Alert type="info" title={t("review|creator_title")}>
                                            {t("review|creator_note", { count: creatorRooms })}
                                        </Alert>
                                    )}
                                    {hiddenRooms > 0 && (
                                        <Alert type="info" title={t("review|hidden_history_title")}>
                                            {t("review|hidden_history_note", { count: hiddenRooms })}
                                        </Alert>
                                    )}
                                </>
                            ) : undefined
                        }
                    />
                );
            })}

            {plan.pendingInvites.length > 0 && (
                <section className="mx_AccountMigration_group" aria-labelledby="mx_AccountMigration_invitesHeading">
                    <Heading as="h3" size="sm" weight="semibold" id="mx_AccountMigration_invitesHeading">
                        {t("review|group_invites")}
                    </Heading>
                    <Text size="sm" className="mx_AccountMigration_secondary">
                        {t("review|invites_note")}
                    </Text>
                    <ul className="mx_AccountMigration_rooms">
                        {plan.pendingInvites.map((p) => (
                            <li key={p.roomId} className="mx_AccountMigration_room">
                                {t("review|pending_from", {
                                    room: p.name,
                                    inviter: p.inviter ?? t("review|unknown_inviter"),
                                })}
                            </li>
                        ))}
                    </ul>
                </section>
            )}

            <Form.Root onSubmit={(e) => e.preventDefault()} className="mx_AccountMigration_stack">
                <Heading as="h3" size="sm" weight="semibold">
                    {t("review|options_heading")}
                </Heading>
                {(
                    [
                        ["leaveOldRooms", "review|leave_old_rooms"],
                        ["movedNotice", "review|moved_notice"],
                        ["copyDefaultPushRuleChanges", "review|default_push_rules"],
                    ] as const
                ).map(([name, label]) => (
                    <Form.InlineField
                        key={name}
                        name={name}
                        control={
                            <Form.CheckboxControl
                                checked={plan.options[name]}
                                onChange={(e: React.ChangeEvent<HTMLInputElement>) =>
                                    setOption(name, e.currentTarget.checked)
                                }
                            />
                        }
                    >
                        <Form.Label>{t(label)}</Form.Label>
                    </Form.InlineField>
                ))}
                {plan.optionalAccountData.length > 0 && (
                    <>
                        <Heading as="h4" size="sm" weight="medium">
                            {t("review|settings_heading")}
                        </Heading>
                        {plan.optionalAccountData.map((o) => (
                            <Form.InlineField
                                key={o.type}
                                name={`setting-${o.type}`}
                                control={
                                    <Form.CheckboxControl
                                        checked={o.selected}
                                        onChange={(e: React.ChangeEvent<HTMLInputElement>) =>
                                            onChange({
                                                ...plan,
                                                optionalAccountData: plan.optionalAccountData.map((x) =>
                                                    x.type === o.type ? { ...x, selected: e.currentTarget.checked } : x,
                                                ),
                                            })
                                        }
                                    />
                                }
                            >
                                <Form.Label>{settingLabel(t, o.type)}</Form.Label>
                            </Form.InlineField>
                        ))}
                    </>
                )}
            </Form.Root>

            {onExportHistory && (
                <HistoryExportPanel
                    t={t}
                    plan={plan}
                    busy={busy}
                    state={historyExport}
                    onExport={() => onExportHistory()}
                />
            )}

            {keys}
            {error && <ErrorNotice t={t} error={error} />}

            <div className="mx_AccountMigration_actions">
                <Button kind="secondary" disabled={busy || !canStart || selected === 0} onClick={() => onRun(true)}>
                    {t("review|dry_run")}
                </Button>
                <Button kind="primary" disabled={busy || !canStart || selected === 0} onClick={() => onRun(false)}>
                    {continuing ? t("review|continue") : t("review|start")}
                </Button>
            </div>
        </section>
    );
}

/** A plain-language name for an account data type (the engine's English label stays for the CLI). */
function settingLabel(t: Translate, type: string): string {
    const key = `setting|${type}`;
    return hasTranslation(key) ? t(key) : t("setting|other", { type });
}

function RoomPlanDetails({
    t,
    room,
    copyText,
    lossesAccepted,
    onAcceptLosses,
    onExport,
}: {
    t: Translate;
    room: RoomPlan;
    copyText(text: string): Promise<void>;
    lossesAccepted: boolean;
    onAcceptLosses(roomId: string, accepted: boolean): void;
    onExport?(roomId: string): void;
}): React.JSX.Element {
    const blockers = room.blockers.filter((b) => !isCreatorNote(b));
    const hidden = room.blockers.find(isHiddenHistory);
    // The person's explicit, per-room acceptance of what stays behind if the old account leaves (the leave gate's
    // only way past a loss): offered where one is named (hidden history) or possible (an encrypted room's keys).
    const canAccept = room.selected && isMovable(room);
    const acceptLabel = hidden
        ? t("review|leave_anyway_history", hidden.params)
        : room.encrypted
          ? t("review|leave_anyway_keys")
          : undefined;
    return (
        <>
            {room.kind === "dm" && room.dmPartners.length > 0 && (
                <Text size="sm">{t("review|dm_with", { users: room.dmPartners.join(", ") })}</Text>
            )}
            {room.joinAfterSpace && <Text size="sm">{t("review|after_space")}</Text>}
            {blockers.map((b) => {
                const admin = blockerAdminMessage(t, b);
                return (
                    <div key={`${b.code}-${b.messageKey}`} className="mx_AccountMigration_stack">
                        <Text size="sm">{blockerReason(t, b)}</Text>
                        {admin && <AdminMessage t={t} text={admin} copyText={copyText} />}
                    </div>
                );
            })}
            {canAccept && acceptLabel && (
                <label className="mx_AccountMigration_row">
                    <CheckboxInput
                        checked={lossesAccepted}
                        onChange={(e: React.ChangeEvent<HTMLInputElement>) =>
                            onAcceptLosses(room.roomId, e.currentTarget.checked)
                        }
                    />
                    <Text as="span" size="sm">
                        {acceptLabel}
                    </Text>
                </label>
            )}
            {onExport && room.hiddenHistory && (
                <div>
                    <Button kind="tertiary" size="md" Icon={DownloadIcon} onClick={() => onExport(room.roomId)}>
                        {t("review|export_history_room")}
                    </Button>
                </div>
            )}
        </>
    );
}

/** A message for a room admin, quoted, with a button to copy it. */
export function AdminMessage({
    t,
    text,
    copyText,
}: {
    t: Translate;
    text: string;
    copyText(text: string): Promise<void>;
}): React.JSX.Element {
    return (
        <>
            <blockquote>
                <Text size="sm">{text}</Text>
            </blockquote>
            <div>
                <CopyButton t={t} text={text} copyText={copyText} />
            </div>
        </>
    );
}
