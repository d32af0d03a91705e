/**
 * A group of rooms (plan or report): a heading with a count badge, optional select-all, an optional note said once
 * for the whole group, and one row per room — avatar, name, a one-line status, and details on demand. Rows are
 * memoised and cheap, so a group of 1,000 rooms renders and scrolls smoothly.
 */
import React, { memo, useId, useState } from "react";
import { Avatar, Badge, Button, CheckboxInput, Heading, Text } from "@vector-im/compound-web";
import ChevronDownIcon from "@vector-im/compound-design-tokens/assets/web/icons/chevron-down";
import ChevronUpIcon from "@vector-im/compound-design-tokens/assets/web/icons/chevron-up";

import type { Translate } from "../i18n/index.ts";

export interface RoomRowModel {
    roomId: string;
    name: string;
    status: string;
    /** Undefined: no checkbox (the row cannot be chosen or left out). */
    selected?: boolean;
    selectable?: boolean;
    /** Rendered only when the user opens the row. */
    details(): React.ReactNode;
}

export interface RoomGroupProps {
    t: Translate;
    title: string;
    rows: RoomRowModel[];
    /** All rows of the group, before the name filter (for the count and select-all). */
    total: number;
    badge: "default" | "grey" | "blue" | "green" | "red";
    note?: React.ReactNode;
    renderAvatar(roomId: string, name: string): React.ReactNode;
    onToggle?(roomId: string, selected: boolean): void;
    onSelectAll?(selected: boolean): void;
    allSelected?: boolean;
}

const RoomRow = memo(function RoomRow({
    t,
    row,
    renderAvatar,
    onToggle,
}: {
    t: Translate;
    row: RoomRowModel;
    renderAvatar: RoomGroupProps["renderAvatar"];
    onToggle?: RoomGroupProps["onToggle"];
}): React.JSX.Element {
    const [open, setOpen] = useState(false);
    const id = useId();
    return (
        <li className="mx_AccountMigration_room">
            <div className="mx_AccountMigration_roomLine">
                {row.selected !== undefined && (
                    <CheckboxInput
                        checked={row.selected}
                        disabled={!row.selectable}
                        aria-labelledby={`${id}-name`}
                        aria-describedby={`${id}-status`}
                        onChange={(e: React.ChangeEvent<HTMLInputElement>) =>
                            onToggle?.(row.roomId, e.currentTarget.checked)
                        }
                    />
                )}
                {renderAvatar(row.roomId, row.name)}
                <div className="mx_AccountMigration_roomText">
                    <Text as="span" size="md" weight="semibold" id={`${id}-name`}>
                        {row.name}
                    </Text>
                    <Text as="span" size="sm" className="mx_AccountMigration_secondary" id={`${id}-status`}>
                        {row.status}
                    </Text>
                </div>
                <Button
                    kind="tertiary"
                    size="md"
                    Icon={open ? ChevronUpIcon : ChevronDownIcon}
                    aria-expanded={open}
                    aria-controls={open ? `${id}-details` : undefined}
                    aria-label={t(open ? "rooms|hide_details" : "rooms|show_details", { room: row.name })}
                    onClick={() => setOpen((o) => !o)}
                    iconOnly
                />
            </div>
            {open && (
                <div className="mx_AccountMigration_roomDetails" id={`${id}-details`}>
                    {row.details()}
                    <span className="mx_AccountMigration_roomId">{row.roomId}</span>
                </div>
            )}
        </li>
    );
});

export function RoomGroup({
    t,
    title,
    rows,
    total,
    badge,
    note,
    renderAvatar,
    onToggle,
    onSelectAll,
    allSelected,
}: RoomGroupProps): React.JSX.Element {
    const headingId = useId();
    return (
        <section className="mx_AccountMigration_group" aria-labelledby={headingId}>
            <div className="mx_AccountMigration_groupHeader">
                <Heading as="h3" size="sm" weight="semibold" id={headingId}>
                    {title}
                </Heading>
                <Badge kind={badge}>{total}</Badge>
                {onSelectAll && (
                    <label className="mx_AccountMigration_row">
                        <CheckboxInput
                            checked={!!allSelected}
                            onChange={(e: React.ChangeEvent<HTMLInputElement>) => onSelectAll(e.currentTarget.checked)}
                        />
                        <Text as="span" size="sm">
                            {t("rooms|select_all", { group: title })}
                        </Text>
                    </label>
                )}
            </div>
            {note}
            {rows.length === 0 ? (
                <Text size="sm" className="mx_AccountMigration_secondary">
                    {t("rooms|none_match")}
                </Text>
            ) : (
                <ul className="mx_AccountMigration_rooms">
                    {rows.map((row) => (
                        <RoomRow key={row.roomId} t={t} row={row} renderAvatar={renderAvatar} onToggle={onToggle} />
                    ))}
                </ul>
            )}
        </section>
    );
}

/** Element's room avatar where the host offers it; Compound's avatar (initial and colour from the id) otherwise. */
export function avatarRenderer(
    renderRoomAvatar: ((roomId: string) => React.ReactNode) | undefined,
): RoomGroupProps["renderAvatar"] {
    return (roomId, name) => {
        if (renderRoomAvatar) {
            try {
                return <span aria-hidden="true">{renderRoomAvatar(roomId)}</span>;
            } catch {
                // Element throws for rooms it does not know (e.g. left meanwhile): fall through to Compound's.
            }
        }
        return <Avatar id={roomId} name={name} size="32px" aria-hidden="true" />;
    };
}
