/**
 * Step 2: the plan, before anything is written. Every room with what will happen to it (and why not, with a
 * message to send to a room admin), the invites the old account never accepted, the options, and the keys.
 */
import React from "react";

import type { Blocker, MigrationPlan, RoomPlan } from "../engine/plan.ts";
import { invitesNeeded } from "../engine/plan.ts";
import type { Translate, TranslationKey } from "../i18n/index.ts";

export interface PlanReviewProps {
    t: Translate;
    plan: MigrationPlan;
    onChange(plan: MigrationPlan): void;
    /** The keys section, rendered by the caller. */
    keys: React.ReactNode;
    busy: boolean;
    onRun(dryRun: boolean): void;
}

function blockerText(t: Translate, b: Blocker): { reason: string; admin?: string } {
    const admin = `admin|${b.messageKey}`;
    return {
        reason: t(`blocker|${b.messageKey}` as TranslationKey, b.params),
        admin: b.adminMessage ? t(admin as TranslationKey, b.params) : undefined,
    };
}

function RoomRow({ t, room, onToggle }: { t: Translate; room: RoomPlan; onToggle(selected: boolean): void }): React.JSX.Element {
    const selectable = room.status === "ready" || room.status === "already";
    return (
        <li className={`mx_AccountMigration_room mx_AccountMigration_room_${room.status}`} data-testid="migration-plan-room" data-room-id={room.roomId}>
            <label>
                <input type="checkbox" checked={room.selected} disabled={!selectable} onChange={(e) => onToggle(e.target.checked)} />
                <strong>{room.name}</strong> · {t(`review|room_${room.status}` as TranslationKey)}
            </label>
            {room.blockers.map((b) => {
                const text = blockerText(t, b);
                return (
                    <div key={`${b.code}-${b.messageKey}`} className="mx_AccountMigration_blocker">
                        <p>{text.reason}</p>
                        {text.admin && (
                            <p>
                                <q>{text.admin}</q>{" "}
                                <button type="button" onClick={() => void navigator.clipboard?.writeText(text.admin!)}>
                                    {t("review|copy_message")}
                                </button>
                            </p>
                        )}
                    </div>
                );
            })}
        </li>
    );
}

export function PlanReview({ t, plan, onChange, keys, busy, onRun }: PlanReviewProps): React.JSX.Element {
    const count = (status: RoomPlan["status"]) => plan.rooms.filter((r) => r.status === status).length;
    const setRoom = (roomId: string, selected: boolean) =>
        onChange({ ...plan, rooms: plan.rooms.map((r) => (r.roomId === roomId ? { ...r, selected } : r)) });
    const setOption = (name: keyof MigrationPlan["options"], value: boolean) => onChange({ ...plan, options: { ...plan.options, [name]: value } });
    return (
        <section className="mx_AccountMigration_review" data-testid="migration-review">
            <h2>{t("review|heading")}</h2>
            <p data-testid="migration-plan-summary">
                {t("review|summary", {
                    total: plan.rooms.length,
                    ready: count("ready"),
                    already: count("already"),
                    blocked: count("blocked"),
                    replaced: count("replaced"),
                    invites: invitesNeeded(plan),
                })}
            </p>
            <ul className="mx_AccountMigration_rooms">
                {plan.rooms.map((room) => (
                    <RoomRow key={room.roomId} t={t} room={room} onToggle={(selected) => setRoom(room.roomId, selected)} />
                ))}
            </ul>
            {plan.pendingInvites.length > 0 && (
                <>
                    <h3>{t("review|pending_heading")}</h3>
                    <ul>
                        {plan.pendingInvites.map((p) => (
                            <li key={p.roomId}>{t("review|pending_from", { room: p.name, inviter: p.inviter ?? "?" })}</li>
                        ))}
                    </ul>
                </>
            )}
            <h3>{t("review|options_heading")}</h3>
            {(
                [
                    ["leaveOldRooms", "review|leave_old_rooms"],
                    ["movedNotice", "review|moved_notice"],
                    ["copyDefaultPushRuleChanges", "review|default_push_rules"],
                ] as const
            ).map(([name, label]) => (
                <label key={name} className="mx_AccountMigration_option">
                    <input type="checkbox" name={name} checked={plan.options[name]} onChange={(e) => setOption(name, e.target.checked)} />
                    {t(label)}
                </label>
            ))}
            {plan.optionalAccountData.length > 0 && (
                <>
                    <h4>{t("review|settings_heading")}</h4>
                    {plan.optionalAccountData.map((o) => (
                        <label key={o.type} className="mx_AccountMigration_option">
                            <input
                                type="checkbox"
                                checked={o.selected}
                                onChange={(e) =>
                                    onChange({
                                        ...plan,
                                        optionalAccountData: plan.optionalAccountData.map((x) => (x.type === o.type ? { ...x, selected: e.target.checked } : x)),
                                    })
                                }
                            />
                            {o.label}
                        </label>
                    ))}
                </>
            )}
            {keys}
            <div className="mx_AccountMigration_actions">
                <button type="button" disabled={busy} onClick={() => onRun(true)}>
                    {t("review|dry_run")}
                </button>{" "}
                <button type="button" disabled={busy} onClick={() => onRun(false)} data-testid="migration-start">
                    {t("review|start")}
                </button>
            </div>
        </section>
    );
}
